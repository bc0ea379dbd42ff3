// The executables as the package ships them (package.json "bin"): the engine's one-file bundle, run with
// this Node, and the runtime's launcher, executed as containerd and podman execute it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
const bin = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
export const CLI = join(REPO, bin.tsbox);
export const RUNTIME = join(REPO, bin['tsbox-runtime']);
