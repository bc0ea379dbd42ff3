// Compiled seccomp programs kept between CLI calls (<state root>/.seccomp-cache for tsbox-runtime): a valid
// entry saves libseccomp's compile, and nothing planted in the cache can weaken a container's filter unless
// it is whole, carries its own key and lies in a directory only root can write.
import test from 'ava';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leftovers, makeBundle, removeBundle } from './helpers/bundle.js';
import { engineRoot } from './helpers/engine-root.js';
import { RUNTIME } from './helpers/bins.js';
import { outputOf } from './helpers/cli.js';
import { native } from '../ts/native.js';
import { compileSeccomp, seccompFilterFromSpec } from '../ts/runtime/seccomp.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-seccomp-cache-'));
test.after.always('no cgroups left behind', (t) => {
  rmSync(work, { recursive: true, force: true });
  t.deepEqual(leftovers().cgroups, []);
});

const MAGIC = Buffer.from('TSBXSCMP');
let seq = 0;

/** A filter denying mkdir with EPERM; salt makes a filter of its own (its own cache entry). */
const denyMkdir = (salt: number) => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [
    { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['tsbox_test_salt'], action: 'SCMP_ACT_ERRNO', errnoRet: 100 + salt },
  ],
});

/** tsbox-runtime run of `mkdir` under the filter, with its own state root: "rc=0" when mkdir ran. */
function runMkdir(root: string, filter: object): string {
  const b = makeBundle(['sh', '-c', 'mkdir /dev/shm/x 2>&1; echo rc=$?'], (s) => (s.linux!.seccomp = filter as never));
  try {
    const r = outputOf(RUNTIME, ['--root', root, 'run', '--bundle', b.dir, `sc${process.pid}-${++seq}`], { tmp: work, timeout: 60000 });
    if (r.code !== 0 && !/rc=/.test(r.stdout)) throw new Error(`tsbox-runtime run: ${r.code} ${r.stderr}`);
    return r.stdout;
  } finally {
    removeBundle(b);
  }
}

/** A state root whose cache holds the entry of filter, as tsbox-runtime wrote it: [cache dir, entry file, its key]. */
function cachedEntry(filter: object): { root: string; dir: string; file: string; key: Buffer } {
  const root = mkdtempSync(join(work, 'root-'));
  const out = runMkdir(root, filter);
  if (!/rc=1/.test(out)) throw new Error(`the filter did not apply: ${out}`);
  const dir = join(root, '.seccomp-cache');
  const names = readdirSync(dir);
  if (names.length !== 1) throw new Error(`cache holds ${names.join(', ')}`);
  return { root, dir, file: join(dir, names[0]), key: Buffer.from(names[0], 'hex') };
}

/** A program that allows every call: what a hostile cache file would hold. */
const allowAll = () => native().seccompCompile(seccompFilterFromSpec({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64'] }));

test('the CLI keeps the compiled program in a 0700 directory, 0600 file holding its key, and uses it', (t) => {
  const filter = denyMkdir(1);
  const { root, dir, file, key } = cachedEntry(filter);
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(statSync(file).mode & 0o777, 0o600);
  const data = readFileSync(file);
  t.deepEqual(data.subarray(0, 8), MAGIC);
  t.deepEqual(data.subarray(8, 40), key);
  // The program itself, as libseccomp compiles it.
  t.deepEqual(data.subarray(40), native().seccompCompile(seccompFilterFromSpec(filter)));
  t.is(data.subarray(40).length % 8, 0);
  // A whole entry with its key is used as it is (which is why its directory must be root's alone): here
  // one that allows mkdir.
  writeFileSync(file, Buffer.concat([MAGIC, key, allowAll()]));
  t.regex(runMkdir(root, filter), /rc=0/);
});

test('a planted entry whose key is not its own is ignored: the container still gets EPERM, and the entry is rewritten', (t) => {
  const filter = denyMkdir(2);
  const { root, file, key } = cachedEntry(filter);
  const other = Buffer.from(key);
  other[0] ^= 0xff;
  writeFileSync(file, Buffer.concat([MAGIC, other, allowAll()]));
  const out = runMkdir(root, filter);
  t.regex(out, /rc=1/);
  t.regex(out, /Operation not permitted/);
  t.deepEqual(readFileSync(file).subarray(8, 40), key);
});

test('a truncated or padded entry, a wrong magic and a symlink are ignored', (t) => {
  const filter = denyMkdir(3);
  const { root, file, key } = cachedEntry(filter);
  const bad = [
    Buffer.concat([MAGIC, key, allowAll(), Buffer.from([0, 0, 0])]),
    Buffer.concat([MAGIC, key, allowAll()]).subarray(0, 40 + 5),
    Buffer.concat([MAGIC, key]),
    Buffer.concat([Buffer.from('XXXXXXXX'), key, allowAll()]),
  ];
  for (const b of bad) {
    writeFileSync(file, b);
    t.regex(runMkdir(root, filter), /rc=1/, `entry of ${b.length} bytes`);
  }
  // A symlink to a valid-looking entry elsewhere is not followed.
  const elsewhere = join(work, `planted-${process.pid}`);
  writeFileSync(elsewhere, Buffer.concat([MAGIC, key, allowAll()]));
  rmSync(file);
  symlinkSync(elsewhere, file);
  t.regex(runMkdir(root, filter), /rc=1/);
});

test('a cache directory that others can write, or that is not root\'s, is not read', (t) => {
  const filter = denyMkdir(4);
  const { root, dir, file, key } = cachedEntry(filter);
  writeFileSync(file, Buffer.concat([MAGIC, key, allowAll()]));
  chmodSync(dir, 0o777);
  t.regex(runMkdir(root, filter), /rc=1/);
  chmodSync(dir, 0o700);
  chownSync(dir, 65534, 65534);
  t.regex(runMkdir(root, filter), /rc=1/);
  chownSync(dir, 0, 0);
  // Root's own 0700 directory again: the entry is trusted.
  t.regex(runMkdir(root, filter), /rc=0/);
});

test('in a library process: compiled once per distinct filter, the same program each time', (t) => {
  const filter = denyMkdir(5);
  const first = compileSeccomp(filter);
  t.deepEqual(first, native().seccompCompile(seccompFilterFromSpec(filter)));
  t.is(compileSeccomp(JSON.parse(JSON.stringify(filter))), first);
  // Another filter is another program.
  t.notDeepEqual(compileSeccomp({ ...filter, defaultAction: 'SCMP_ACT_LOG' }), first);
});

test('the engine CLI keeps the default profile\'s program in <root>/seccomp-cache: one entry, however many runs', (t) => {
  const e = engineRoot('tsbox-seccomp-engine-');
  t.teardown(() => e.remove());
  e.importBusybox();
  for (let i = 0; i < 2; i++) {
    const r = e.tsbox(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'unshare -U true 2>&1; echo rc=$?']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /Operation not permitted[\s\S]*rc=1/);
  }
  const dir = join(e.root, 'seccomp-cache');
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(readdirSync(dir).length, 1);
});
