// The builder as the library exports it: loaded on first use, so that importing tsbox does not load the
// Dockerfile parser and .dockerignore matcher (CommonJS packages some bundles cannot carry).
import type { BuildOptions, BuildResult } from './builder.js';

export type { BuildOptions, BuildResult };
export { BuildError, DockerfileError } from './errors.js';

/** docker build into the store at root (see BuildOptions). */
export async function build(root: string, o: BuildOptions): Promise<BuildResult> {
  const { build: run } = await import('./builder.js');
  return run(root, o);
}
