// Test bundles: a busybox-static rootfs and a runc-style default spec, in a temp dir removed on teardown.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { defaultSpec } from '../../ts/runtime/default-spec.js';
import type { OciSpec } from '../../ts/runtime/spec.js';

export const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p)) ?? '/bin/busybox';

let cachedRootfs: string | undefined;

/** A read-only-able busybox rootfs shared by the tests of one worker (built once). */
export function busyboxRootfs(): string {
  if (cachedRootfs) return cachedRootfs;
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-rootfs-'));
  // mkdtemp makes it 0700: processes running as other users must be able to enter it.
  execFileSync('chmod', ['755', dir]);
  for (const d of ['bin', 'sbin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'usr/bin', 'var']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  execFileSync('chmod', ['755', join(dir, 'bin/busybox')]);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  execFileSync('chmod', ['1777', join(dir, 'tmp')]);
  cachedRootfs = dir;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Bundle {
  dir: string;
  spec: OciSpec;
  id: string;
  write(): void;
}

let counter = 0;

/** A bundle whose config.json is the default spec running args (no terminal), with its own cgroup path. */
export function makeBundle(args: string[], mutate?: (s: OciSpec) => void): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-bundle-'));
  const id = `t${process.pid}-${++counter}`;
  const spec = defaultSpec({ args, rootfs: busyboxRootfs() });
  spec.process!.terminal = false;
  spec.linux!.cgroupsPath = `/${TEST_CGROUP_PARENT}/${id}`;
  delete spec.linux!.resources;
  mutate?.(spec);
  const b: Bundle = {
    dir,
    spec,
    id,
    write() {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(b.spec, null, 2));
    },
  };
  b.write();
  return b;
}

/** Every test cgroup lives under this parent; the suite checks it is empty at the end. */
export const TEST_CGROUP_PARENT = `tsbox-test-${process.pid}`;

export function removeBundle(b: Bundle): void {
  rmSync(b.dir, { recursive: true, force: true });
}

export const STATE_ROOT = mkdtempSync(join(tmpdir(), 'tsbox-state-'));
process.on('exit', () => {
  // Only when empty: a leftover container state is a failure the suite reports, not something to hide.
  try {
    rmdirSync(join(STATE_ROOT, '.locks'));
  } catch {
    // absent or not empty
  }
  try {
    rmdirSync(STATE_ROOT);
  } catch {
    // not empty
  }
  // Every test file of a run shares this parent (worker threads of one process): the last to end
  // removes it. One with a cgroup left in it stays, for check-clean to report.
  for (const r of cgroupRoots()) {
    try {
      rmdirSync(`${r}/${TEST_CGROUP_PARENT}`);
    } catch {
      // absent, or not empty
    }
  }
});

const cgroupRoots = () => (existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => `/sys/fs/cgroup/${c}`));

/** Test cgroups and container states still present (the parent cgroup is removed when empty). */
export function leftovers(): { cgroups: string[]; states: string[] } {
  const cgroups: string[] = [];
  for (const r of cgroupRoots()) {
    const dir = `${r}/${TEST_CGROUP_PARENT}`;
    if (!existsSync(dir)) continue;
    const kids = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
    if (kids.length) cgroups.push(...kids.map((k) => `${dir}/${k.name}`));
    else {
      try {
        rmdirSync(dir);
      } catch {
        cgroups.push(dir);
      }
    }
  }
  const states = existsSync(STATE_ROOT) ? readdirSync(STATE_ROOT).filter((n) => n !== '.locks') : [];
  const locks = join(STATE_ROOT, '.locks');
  if (existsSync(locks)) states.push(...readdirSync(locks).map((n) => `.locks/${n}`));
  return { cgroups, states };
}
