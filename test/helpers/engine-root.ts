// A private engine root for CLI tests: the tsbox CLI bound to it, the busybox image imported from the
// test rootfs (no registry needed), and a teardown that removes every container and the root.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './bundle.js';
import { outputOf, type CliResult } from './cli.js';
import { CLI } from './bins.js';

export interface EngineRoot {
  root: string;
  tsbox(argv: string[], input?: string): CliResult;
  /** `tsbox import` of the busybox rootfs as the image "busybox". */
  importBusybox(): void;
  /** rm -f of every container, then the root itself. */
  remove(): void;
}

export function engineRoot(prefix: string): EngineRoot {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const tsbox = (argv: string[], input?: string) => outputOf(process.execPath, [CLI, '--root', root, ...argv], { tmp: root, input });
  return {
    root,
    tsbox,
    importBusybox() {
      const tarball = join(root, 'busybox.tar.gz');
      execFileSync('tar', ['-C', busyboxRootfs(), '-czf', tarball, '.']);
      const r = tsbox(['import', tarball, 'busybox']);
      if (r.code !== 0) throw new Error(r.stderr);
    },
    remove() {
      for (const id of existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []) tsbox(['rm', '-f', id]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
