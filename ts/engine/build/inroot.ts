// Paths inside an image's root as the container would see them: symlinks (absolute or with "..") are
// followed but never leave the root, so a hostile image's `/app -> /etc` cannot make COPY write to the host.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

/** The host path of `path` (absolute inside root), every symlink on the way resolved within root. */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  let todo = posix.normalize('/' + path).split('/').filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, part);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && (followLast || todo.length)) {
      if (++hops > 40) throw new Error(`${path}: too many levels of symbolic links (ELOOP)`);
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo = [...target.split('/').filter(Boolean), ...todo];
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** Reads a file of the image (etc/passwd) the safe way; undefined when it is not there. */
export function inRootReader(root: string): (rel: string) => string | undefined {
  return (rel) => {
    try {
      return readFileSync(resolveInRoot(root, rel), 'utf8');
    } catch {
      return undefined;
    }
  };
}
