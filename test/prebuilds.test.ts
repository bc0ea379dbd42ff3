// The prebuilt addons the package ships (scripts/prebuild.sh, run before the tests): what each needs of
// the C library it loads with, the tsbox-init each embeds, and each loaded where it is meant to run:
// the musl one by musl's own dynamic linker, the arm64 one by Debian's arm64 Node under qemu-user.
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './helpers/bins.js';

const PREBUILDS = join(REPO, 'prebuilds');
const X64_GLIBC = join(PREBUILDS, 'linux-x64', 'node.napi.glibc.node');
const X64_MUSL = join(PREBUILDS, 'linux-x64', 'node.napi.musl.node');
const ARM64_GLIBC = join(PREBUILDS, 'linux-arm64', 'node.napi.glibc.node');
const MAX_GLIBC = [2, 28];

// ELF e_machine values, and libseccomp's audit arch for each (the first check of every filter).
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const AUDIT_ARCH = { [EM_X86_64]: 0xc000003e, [EM_AARCH64]: 0xc00000b7 } as const;
// libseccomp's numbers (seccomp.h)
const SCMP_ACT_ALLOW = 0x7fff0000;
const SCMP_ACT_ERRNO = 0x00050000;

// Debian's arm64 Node, unpacked by scripts/arm64-node.sh (setup.sh), and the emulator to run it.
const ARM64_ROOT = process.env.TSBOX_ARM64_NODE ?? '/opt/tsbox-arm64-node';
const QEMU = ['/usr/bin/qemu-aarch64-static', '/usr/bin/qemu-aarch64'].find((p) => existsSync(p));

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-prebuilds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function prebuilt(path: string): Buffer {
  if (!existsSync(path)) throw new Error(`${path} is missing: npm run prebuild (npm test runs it first)`);
  return readFileSync(path);
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
const objdumpFor = (path: string) => (path === ARM64_GLIBC && existsSync('/usr/bin/aarch64-linux-gnu-objdump') ? 'aarch64-linux-gnu-objdump' : 'objdump');

/** Every GLIBC-versioned dynamic symbol of an ELF file (objdump -T), as "pthread_create@GLIBC_2.34". */
function glibcSymbols(path: string): { symbol: string; version: string }[] {
  const found: { symbol: string; version: string }[] = [];
  for (const line of run(objdumpFor(path), ['-T', path]).split('\n')) {
    const m = /\(?GLIBC_([0-9][0-9.]*)\)?\s+(\S+)\s*$/.exec(line);
    if (m) found.push({ version: m[1], symbol: m[2] });
  }
  return found;
}

const newer = (v: string, max: number[]) => {
  const p = v.split('.').map(Number);
  for (let i = 0; i < Math.max(p.length, max.length); i++) if ((p[i] ?? 0) !== (max[i] ?? 0)) return (p[i] ?? 0) > (max[i] ?? 0);
  return false;
};

/** The symbols of a file newer than glibc 2.28. */
const tooNew = (path: string) => glibcSymbols(path).filter((s) => newer(s.version, MAX_GLIBC)).map((s) => `${s.symbol}@GLIBC_${s.version}`);

/**
 * Every version the file requires (objdump -p, "Version References"), also those no symbol names
 * (GLIBC_ABI_DT_RELR, which packed relocations need, from glibc 2.36).
 */
const versionRefs = (path: string) => {
  const out = run(objdumpFor(path), ['-p', path]);
  const refs = out.slice(out.indexOf('Version References:'));
  return [...refs.matchAll(/^\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)$/gm)].map((m) => m[1]);
};

const elfMachine = (elf: Buffer, at = 0) => elf.readUInt16LE(at + 18);

/** The machine of each ELF image embedded in a file after its own header (tsbox-init, .incbin). */
function embeddedMachines(file: Buffer): number[] {
  const found: number[] = [];
  for (let at = file.indexOf('\x7fELF', 1); at > 0; at = file.indexOf('\x7fELF', at + 4)) {
    // a full ELF64 little-endian header of an executable (ET_EXEC or ET_DYN), not a stray string
    if (file[at + 4] === 2 && file[at + 5] === 1 && [2, 3].includes(file.readUInt16LE(at + 16))) found.push(elfMachine(file, at));
  }
  return found;
}

const needed = (path: string) => [...run('readelf', ['-d', path]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);

test('the glibc prebuilds (x64 and arm64) need no symbol version newer than GLIBC_2.28', (t) => {
  // The first version of each architecture's glibc (all its older symbols carry it).
  for (const [path, machine, first] of [[X64_GLIBC, EM_X86_64, '2.2.5'], [ARM64_GLIBC, EM_AARCH64, '2.17']] as const) {
    t.is(elfMachine(prebuilt(path)), machine, path);
    const symbols = glibcSymbols(path);
    const versions = [...new Set(symbols.map((s) => s.version))].sort((a, b) => (newer(a, b.split('.').map(Number)) ? 1 : -1));
    t.log(`${path.slice(REPO.length + 1)}: ${symbols.length} glibc symbols, versions ${versions.join(' ')}`);
    t.true(symbols.length > 50 && versions.includes(first), `${path}: not a glibc build?`);
    t.true(symbols.some((s) => s.symbol === 'pthread_create'), 'pthread_create is among them');
    t.deepEqual(tooNew(path), [], path);
    const refs = versionRefs(path);
    t.true(refs.includes(`GLIBC_${first}`), refs.join(' '));
    t.deepEqual(refs.filter((r) => !/^GLIBC_[0-9.]+$/.test(r) || newer(r.slice(6), MAX_GLIBC)), [], path);
    // pthread_create was in libpthread.so.0 before glibc 2.34: named, so an old glibc loads it there.
    t.true(needed(path).includes('libpthread.so.0'), `${path} does not need libpthread.so.0`);
  }
});

test('the check catches what glibc_compat.h/.c fix: the same C built without them needs glibc 2.33/2.34, with them behaves the same as glibc', (t) => {
  const dir = tempDir(t);
  // pthread_create (GLIBC_2.34) and stat & co. (GLIBC_2.33) as the addon uses them.
  writeFileSync(join(dir, 'probe.c'), `#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
static void *twice(void *p) { return (void *)((long)p * 2); }
#include <unistd.h>
__attribute__((visibility("default"))) int probe(const char *path, char *out, int len) {
  pthread_t th; void *r; struct stat a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
  if (pthread_create(&th, NULL, twice, (void *)21) || pthread_join(th, &r)) return -1;
  int fd = open(path, O_PATH | O_NOFOLLOW);
  int ra = stat(path, &a), rb = lstat(path, &b), rc = fstat(fd, &c), rd = fstatat(AT_FDCWD, path, &d, AT_SYMLINK_NOFOLLOW);
  if (fd >= 0) close(fd);
  errno = 0;
  int rx = fstat(AT_FDCWD, &e), ex = errno; /* EBADF, not the working directory */
  int rm = mknod("/proc/version", S_IFREG | 0600, 0);
  return snprintf(out, len, "%ld %d:%lu:%o:%lu %d:%lu:%o %d:%lu:%o:%ld %d:%lu %d:%d:%lu %d", (long)r, ra, (unsigned long)a.st_ino, a.st_mode, (unsigned long)a.st_rdev,
                  rb, (unsigned long)b.st_ino, b.st_mode, rc, (unsigned long)c.st_ino, c.st_mode, (long)c.st_size, rd, (unsigned long)d.st_ino,
                  rx, ex, (unsigned long)e.st_ino, rm);
}
`);
  writeFileSync(join(dir, 'main.c'), `#include <errno.h>
#include <stdio.h>
#include <string.h>
int probe(const char *path, char *out, int len);
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) { char out[512]; errno = 0; probe(argv[i], out, sizeof out); printf("%s errno=%s\\n", out, strerror(errno)); }
  return 0;
}
`);
  const compat = join(REPO, 'csrc', 'addon');
  const build = (name: string, extra: string[]) => {
    const so = join(dir, `lib${name}.so`);
    run('cc', ['-O2', '-shared', '-fPIC', '-fvisibility=hidden', '-o', so, ...extra, join(dir, 'probe.c'), '-Wl,--no-as-needed', '-l:libpthread.so.0']);
    run('cc', ['-O2', '-o', join(dir, name), join(dir, 'main.c'), `-L${dir}`, `-l${name}`, `-Wl,-rpath,${dir}`]);
    return so;
  };
  const plain = build('plain', []);
  const pinned = build('pinned', ['-include', join(compat, 'glibc_compat.h'), join(compat, 'glibc_compat.c')]);
  const plainNew = tooNew(plain);
  t.log('without them:', plainNew.join(' '));
  t.true(plainNew.some((s) => s.startsWith('pthread_create@GLIBC_2.34')), plainNew.join(' '));
  t.true(plainNew.some((s) => /^(stat|fstat|lstat|fstatat)@GLIBC_2\.33$/.test(s)), plainNew.join(' '));
  t.deepEqual(tooNew(pinned), []);
  // The replacements answer as glibc does: a file, a symlink (lstat/fstatat NOFOLLOW see the link), a
  // device, a missing path (ENOENT), and mknod's EEXIST.
  const link = join(dir, 'link');
  run('ln', ['-s', '/dev/null', link]);
  const paths = [join(dir, 'main.c'), link, '/dev/null', join(dir, 'missing')];
  const viaGlibc = run(join(dir, 'plain'), paths);
  t.is(run(join(dir, 'pinned'), paths), viaGlibc);
  t.regex(viaGlibc.split('\n')[0], /^42 0:\d+:100644:0 .* -1:9:0 -1 errno=File exists$/);
});

test('each prebuild embeds a tsbox-init for its own architecture', (t) => {
  for (const [path, machine] of [[X64_GLIBC, EM_X86_64], [X64_MUSL, EM_X86_64], [ARM64_GLIBC, EM_AARCH64]] as const) {
    const file = prebuilt(path);
    t.is(elfMachine(file), machine, path);
    t.deepEqual(embeddedMachines(file), [machine], path);
  }
});

test('the musl prebuild links against musl only, and musl\'s dynamic linker loads it with every symbol bound', (t) => {
  prebuilt(X64_MUSL);
  const libs = needed(X64_MUSL);
  t.log('NEEDED', libs.join(' '));
  t.true(libs.length > 0);
  t.deepEqual(libs.filter((l) => l !== 'libc.so' && l !== 'libc.musl-x86_64.so.1'), []);
  t.deepEqual(glibcSymbols(X64_MUSL), [], 'no GLIBC_ symbol versions');
  t.deepEqual(versionRefs(X64_MUSL), [], 'no version references at all');
  // What it imports is Node-API's (from node) or musl's libc: nothing of glibc's (__*_chk, __isoc99_*...).
  const musl = '/lib/ld-musl-x86_64.so.1';
  t.true(existsSync(musl), `${musl} is missing: apt-get install musl (scripts/setup.sh)`);
  const defined = new Set(run('nm', ['-D', '--defined-only', musl]).split('\n').map((l) => l.split(' ').pop()));
  const undefinedSyms = run('nm', ['-D', '--undefined-only', X64_MUSL]).split('\n').filter((l) => /^\s+U /.test(l)).map((l) => l.trim().split(/\s+/)[1]);
  const napi = undefinedSyms.filter((s) => /^(napi_|node_api_)/.test(s));
  t.true(napi.length > 10, 'Node-API imports');
  t.deepEqual(undefinedSyms.filter((s) => !/^(napi_|node_api_)/.test(s) && !defined.has(s)), [], 'imports musl does not define');

  // Loaded for real by musl's dynamic linker: a musl program that exports the Node-API functions the
  // addon imports (as node does) dlopen()s it with RTLD_NOW (the addon is linked -z now too), so every
  // relocation is bound against musl's libc and its constructors run. The glibc prebuild, the reference,
  // must fail there.
  const dir = tempDir(t);
  const stubs = napi.map((s) => `int ${s}(void) { return 1; }`).join('\n');
  writeFileSync(join(dir, 'host.c'), `#include <dlfcn.h>
#include <stdio.h>
${stubs}
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) { printf("dlopen: %s\\n", dlerror()); return 1; }
  printf(dlsym(h, "napi_register_module_v1") ? "loaded\\n" : "no napi_register_module_v1\\n");
  return 0;
}
`);
  run('musl-gcc', ['-rdynamic', '-o', join(dir, 'host'), join(dir, 'host.c')]);
  t.true(needed(join(dir, 'host')).every((l) => l === 'libc.so'), 'the host is a musl program');
  t.is(run(join(dir, 'host'), [X64_MUSL]), 'loaded\n');
  const glibc = spawnSync(join(dir, 'host'), [X64_GLIBC], { encoding: 'utf8' });
  t.log('the glibc prebuild under musl:', glibc.stdout.trim());
  t.is(glibc.status, 1);
  t.regex(glibc.stdout, /^dlopen: /);
});

test('the arm64 prebuild loads in Debian\'s arm64 Node under qemu-user, and its CLI answers', async (t) => {
  if (!QEMU) {
    t.log('skipped: qemu-user-static is not installed (scripts/setup.sh installs it)');
    t.pass();
    return;
  }
  const node = join(ARM64_ROOT, 'usr', 'bin', 'node');
  t.true(existsSync(node), `${node} is missing: bash scripts/arm64-node.sh (scripts/setup.sh runs it)`);
  prebuilt(ARM64_GLIBC);
  const arm64 = (args: string[]) => spawnSync(QEMU, ['-L', ARM64_ROOT, node, ...args], { encoding: 'utf8', timeout: 120_000 });

  // The addon itself: system calls through it, libseccomp compiling an aarch64 filter, and the sealed
  // memfd with the embedded tsbox-init, read back: an arm64 ELF.
  const probe = arm64(['-e', `
    const a = require(process.argv[1]);
    const [x, y] = a.socketpair();
    const bpf = a.seccompCompile({ defaultAction: ${SCMP_ACT_ALLOW}, architectures: [], rules: [{ names: ['mkdir'], action: ${SCMP_ACT_ERRNO}, errno: 1 }] });
    const ks = []; for (let i = 0; i < bpf.length; i += 8) ks.push(bpf.readUInt32LE(i + 4));
    const head = Buffer.alloc(64); require('fs').readSync(a.initFd(), head, 0, 64, 0);
    a.close(x); a.close(y);
    console.log(JSON.stringify({ arch: process.arch, node: process.version, napi: process.versions.napi, pair: x >= 0 && y > x, ks, init: head.readUInt16LE(18), magic: head.subarray(0, 4).toString('latin1') }));
  `, ARM64_GLIBC]);
  t.is(probe.status, 0, probe.stderr);
  const got = JSON.parse(probe.stdout) as { arch: string; node: string; napi: string; pair: boolean; ks: number[]; init: number; magic: string };
  t.log(`Debian's arm64 Node ${got.node} (Node-API ${got.napi}) under ${QEMU}`);
  t.is(got.arch, 'arm64');
  t.true(got.pair);
  t.true(got.ks.includes(AUDIT_ARCH[EM_AARCH64]), 'the filter checks AUDIT_ARCH_AARCH64');
  t.is(got.magic, '\x7fELF');
  t.is(got.init, EM_AARCH64, 'the embedded tsbox-init is arm64');

  // The CLI as an installed package has it: dist/ and the arm64 prebuild, no build/ (the x64 one would
  // come first). Both the tagged name and the untagged one older loaders look for.
  const pkg = tempDir(t);
  copyFileSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
  run('cp', ['-r', join(REPO, 'dist'), join(pkg, 'dist')]);
  mkdirSync(join(pkg, 'prebuilds', 'linux-arm64'), { recursive: true });
  for (const name of ['node.napi.glibc.node', 'node.napi.node']) copyFileSync(ARM64_GLIBC, join(pkg, 'prebuilds', 'linux-arm64', name));
  const cli = join(pkg, 'dist', 'tsbox.cjs');
  const version = arm64([cli, 'version']);
  t.is(version.status, 0, version.stderr);
  t.regex(version.stdout, /^tsbox version \d+\.\d+\.\d+/);

  // A container needs clone(2) with namespace flags, which qemu-user may refuse: that is recorded, not
  // failed, as long as it is a system call's error, which only the loaded addon reaches (the loader's
  // own failures name the addon instead).
  const sandbox = arm64([cli, 'sandbox', '--', 'true']);
  if (sandbox.status === 0) t.log('tsbox sandbox -- true under qemu-user: exit 0');
  else {
    t.log(`tsbox sandbox -- true under qemu-user: exit ${sandbox.status}, ${sandbox.stderr.trim()} (the emulator's limit)`);
    t.notRegex(sandbox.stderr, /native addon|\.node|cannot open shared object|ELF|undefined symbol/i);
    t.regex(sandbox.stderr, /\b(clone|clone3|unshare|setns|mount|pivot_root)\b.*: E[A-Z]+/);
  }
});

test('npm pack ships the three prebuilds', (t) => {
  const out = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])) as { files: { path: string }[] }[];
  const files = out[0].files.map((f) => f.path);
  for (const p of [X64_GLIBC, X64_MUSL, ARM64_GLIBC]) t.true(files.includes(p.slice(REPO.length + 1)), p);
});
