// COPY/ADD into a stage's mounted filesystem: docker's destination rules (a trailing "/" or several
// sources make a directory; a directory source stands for its contents), --chown and --chmod, every
// destination path resolved inside the image's root (inroot.ts).
import { chmodSync, copyFileSync, lchownSync, lstatSync, lutimesSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { filesBelow, type BuildContext, type Source } from './context.js';
import { resolveInRoot } from './inroot.js';

export interface CopyOptions {
  owner?: { uid: number; gid: number };
  /** --chmod, octal. */
  mode?: number;
  /** Keep the source's owner (an archive's entries) instead of root's. */
  keepOwner?: boolean;
}

/** mkdir -p inside the image root; new directories are root's, 0755, as docker makes them. */
function mkdirIn(root: string, path: string): string {
  // Resolved first: every existing component is then a real directory, the missing ones are made.
  const host = resolveInRoot(root, path);
  let cur = root;
  for (const part of host.slice(root.length).split('/').filter(Boolean)) {
    cur = join(cur, part);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (!st) {
      mkdirSync(cur, { mode: 0o755 });
      chmodSync(cur, 0o755);
    } else if (!st.isDirectory()) throw new Error(`cannot copy to ${path}: ${cur.slice(root.length)} exists and is not a directory`);
  }
  return host;
}

function copyOne(srcHost: string, destHost: string, o: CopyOptions): void {
  const st = lstatSync(srcHost);
  const existing = lstatSync(destHost, { throwIfNoEntry: false });
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) rmSync(destHost, { force: true });
    if (!existing?.isDirectory()) mkdirSync(destHost);
  } else {
    if (existing?.isDirectory()) rmSync(destHost, { recursive: true, force: true });
    else if (existing) rmSync(destHost, { force: true });
    if (st.isSymbolicLink()) symlinkSync(readlinkSync(srcHost), destHost);
    else if (st.isFile()) copyFileSync(srcHost, destHost);
    else return; // devices, fifos, sockets: not copied (docker copies regular files, dirs, links)
  }
  lchownSync(destHost, o.owner?.uid ?? (o.keepOwner ? st.uid : 0), o.owner?.gid ?? (o.keepOwner ? st.gid : 0));
  if (!st.isSymbolicLink()) chmodSync(destHost, o.mode ?? st.mode & 0o7777);
  lutimesSync(destHost, st.atime, st.mtime);
}

/**
 * Copies sources (from the context or another stage's root) to dest, an absolute path in the image.
 * ctx limits a directory source to what .dockerignore lets through.
 */
export function copyInto(root: string, srcRoot: string, ctx: BuildContext | undefined, sources: Source[], dest: string, o: CopyOptions, what: string): void {
  const toDir = dest.endsWith('/') || sources.length > 1 || sources.some((s) => s.isDir);
  if (sources.length > 1 && !dest.endsWith('/') && !lstatSync(resolveInRoot(root, dest), { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${what}: when using ${what} with more than one source file, the destination must be a directory and end with a /`);
  for (const s of sources) {
    if (s.isDir) {
      const base = mkdirIn(root, dest);
      // The destination stands for the source directory: --chown applies to it too (as buildah and BuildKit).
      if (o.owner) lchownSync(base, o.owner.uid, o.owner.gid);
      for (const rel of filesBelow(ctx, s, srcRoot)) {
        const sub = s.rel ? rel.slice(s.rel.length + 1) : rel;
        const target = posix.join(dest, sub);
        mkdirIn(root, posix.dirname(target));
        copyOne(join(srcRoot, rel), resolveInRoot(root, target, false), o);
      }
      continue;
    }
    let target = dest;
    const destSt = lstatSync(resolveInRoot(root, dest), { throwIfNoEntry: false });
    if (toDir || destSt?.isDirectory()) {
      mkdirIn(root, dest);
      target = posix.join(dest, basename(s.rel || s.host));
    } else mkdirIn(root, posix.dirname(posix.normalize('/' + dest)));
    copyOne(s.host, resolveInRoot(root, target, false), o);
  }
}

/** WORKDIR: the missing directories of dir are made, owned by the stage's USER (as BuildKit and buildah). */
export function makeWorkdir(root: string, dir: string, owner: { uid: number; gid: number }): void {
  const host = resolveInRoot(root, dir);
  let cur = root;
  for (const part of host.slice(root.length).split('/').filter(Boolean)) {
    cur = join(cur, part);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (st?.isDirectory()) continue;
    if (st) throw new Error(`WORKDIR ${dir}: ${cur.slice(root.length)} exists and is not a directory`);
    mkdirSync(cur, { mode: 0o755 });
    chmodSync(cur, 0o755);
    lchownSync(cur, owner.uid, owner.gid);
  }
}
