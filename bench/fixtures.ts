// Bench fixtures: one busybox rootfs and per-runtime bundles of the same container (pid, mount, uts,
// ipc and net namespaces, a cgroup, pivot_root), so every runtime runs the same thing.
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Layout } from '../test/helpers/registry.js';
import { defaultSpec } from '../ts/runtime/default-spec.js';
import type { OciSpec } from '../ts/runtime/spec.js';

export const WORK = join(import.meta.dirname, 'work');

export function rootfs(): string {
  const dir = join(WORK, 'rootfs');
  if (existsSync(join(dir, 'bin/busybox'))) return dir;
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  const bb = ['/bin/busybox', '/usr/bin/busybox'].find(existsSync)!;
  copyFileSync(bb, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of execFileSync(bb, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (a !== 'busybox') symlinkSync('busybox', join(dir, 'bin', a));
  }
  return dir;
}

/** The benchmark spec: /bin/true (or args) with the default mounts and namespaces, no terminal. */
export function benchSpec(args: string[] = ['/bin/true'], extra?: (s: OciSpec) => void): OciSpec {
  const s = defaultSpec({ args, rootfs: rootfs() });
  s.process!.terminal = false;
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
  // crun refuses to mount cgroups on a hybrid host (like this one): no runtime mounts them here.
  s.mounts = s.mounts!.filter((m) => m.type !== 'cgroup');
  delete s.linux!.resources;
  extra?.(s);
  return s;
}

/** A bundle directory with config.json; cgroupsPath under /tsbox-bench so all runtimes pay for a cgroup. */
export function bundle(name: string, spec: OciSpec = benchSpec()): string {
  const dir = join(WORK, 'bundles', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...spec, linux: { ...spec.linux, cgroupsPath: `/tsbox-bench/${name}` } }));
  return dir;
}

/**
 * The bench rootfs as an OCI image layout under dir whose index names it ref (tsbox and podman load take
 * that as the image name, skopeo's oci: transport as the tag), on top of it one layer of random data
 * (incompressible, so it really is that size on the wire) per entry of randomMiB; and a tar of the
 * layout, the OCI archive `tsbox load` and `podman load` read.
 */
export function benchImage(dir: string, ref: string, randomMiB: number[] = []): { layout: string; tar: string } {
  const layers = [rootfs()];
  randomMiB.forEach((n, i) => {
    const d = join(dir, `random${i}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `random${i}`), randomBytes(n << 20));
    layers.push(d);
  });
  const layout = new Layout(join(dir, 'layout'));
  layout.image(layers, { tag: ref, arch: process.arch === 'x64' ? 'amd64' : process.arch });
  layout.write();
  const tar = join(dir, 'layout.tar');
  execFileSync('tar', ['-C', layout.dir, '-cf', tar, '.']);
  return { layout: layout.dir, tar };
}

export function cleanWork(): void {
  rmSync(join(WORK, 'bundles'), { recursive: true, force: true });
}

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
