// The caller's terminal never reaches a container. A shell runs on a pty this test holds; in it, `tsbox run`,
// `exec` and `sandbox` start a helper that pushes `touch /tmp/PWNED-<token>` into fds 0-2 with TIOCSTI
// (legacy_tiocsti=1 here). Nothing may reach the caller's shell, and the helper runs in a session of its own
// with no controlling terminal. podman with runc, on the same pty, is the reference.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { busyboxRootfs } from './helpers/bundle.js';
import { outputOf } from './helpers/cli.js';
import { CLI } from './helpers/bins.js';
import { havePodman, podmanRef } from './helpers/podman-ref.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

const root = mkdtempSync(join(tmpdir(), 'tsbox-term-'));
// The sandbox sees the host's filesystem but a /tmp of its own: the helper lives outside /tmp.
const hostDir = mkdtempSync('/var/tmp/tsbox-term-');
const rootfs = join(root, 'rootfs');
const STI = join(hostDir, 'sti');

const HELPER = `
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
/* Pushes "touch /tmp/PWNED-<token>\\n" into the input of whatever terminal fds 0-2 are, one char at a time. */
int main(int argc, char **argv) {
  char payload[128];
  snprintf(payload, sizeof payload, "touch /tmp/PWNED-%s\\n", argc > 1 ? argv[1] : "x");
  int n[3] = {0}, err[3] = {0};
  for (int fd = 0; fd < 3; fd++)
    for (char *p = payload; *p; p++) {
      if (ioctl(fd, TIOCSTI, p) == 0) n[fd]++;
      else err[fd] = errno;
    }
  /* The controlling terminal, whatever the fds are: the caller's, were the process in its session. */
  int t = open("/dev/tty", O_RDWR | O_NOCTTY), nt = 0, et = t < 0 ? errno : 0;
  if (t >= 0)
    for (char *p = payload; *p; p++) {
      if (ioctl(t, TIOCSTI, p) == 0) nt++;
      else et = errno;
    }
  printf("STI %d:%d %d:%d %d:%d tty=%d:%d\\n", n[0], err[0], n[1], err[1], n[2], err[2], nt, et);
  fflush(stdout);
  if (argc > 2) sleep((unsigned)atoi(argv[2]));
  return 0;
}
`;

// A shell on a pty this driver holds: it types the command, reads until the marker, then gives the shell
// time to read (and run) whatever was injected after it.
const DRIVER = `
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ['PS1'] = '$ '
    os.execv('/bin/sh', ['sh', '-i'])
sys.stdout.write('SHELL=%d\\n' % pid)
sys.stdout.flush()
out = b''
def pump(until, secs):
    global out
    end = time.time() + secs
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            d = os.read(fd, 4096)
        except OSError:
            return
        if not d:
            return
        out += d
        if until and until in out:
            return
time.sleep(0.3)
os.write(fd, (sys.argv[1] + '; echo "EXIT=$?"; echo END""MARK\\n').encode())
if len(sys.argv) > 4:
    # Keys typed once the command says so (^C to the CLI, say).
    pump(sys.argv[3].encode(), float(sys.argv[2]))
    time.sleep(0.2)
    os.write(fd, sys.argv[4].encode())
pump(b'ENDMARK', float(sys.argv[2]))
pump(None, 1.5)
os.write(fd, b'exit\\n')
pump(None, 0.5)
sys.stdout.write(out.decode('utf8', 'replace'))
`;

test.before(() => {
  const cc = have('musl-gcc') ? 'musl-gcc' : 'gcc';
  writeFileSync(join(hostDir, 'sti.c'), HELPER);
  execFileSync(cc, ['-static', '-O1', '-o', STI, join(hostDir, 'sti.c')]);
  chmodSync(hostDir, 0o755);
  writeFileSync(join(hostDir, 'driver.py'), DRIVER);
  cpSync(busyboxRootfs(), rootfs, { recursive: true, verbatimSymlinks: true });
  cpSync(STI, join(rootfs, 'bin/sti'));
  const tarball = join(root, 'sti.tar.gz');
  execFileSync('tar', ['-C', rootfs, '-czf', tarball, '.']);
  const r = tsbox(['import', tarball, 'sti']);
  if (r.code !== 0) throw new Error(r.stderr);
});

test.after.always(() => {
  for (const id of existsSync(join(root, 'containers')) ? readdirSync(join(root, 'containers')) : []) tsbox(['rm', '-f', id]);
  rmSync(root, { recursive: true, force: true });
  rmSync(hostDir, { recursive: true, force: true });
});

function tsbox(argv: string[]) {
  return outputOf(process.execPath, [CLI, '--root', root, ...argv], { tmp: root });
}

interface PtyRun {
  token: string;
  out: string;
  /** The helper's session and tty_nr (host view, /proc/PID/stat fields 6 and 7) while it ran. */
  helper?: { session: number; ttyNr: number };
  shell: number;
  injected: number;
  exit: string;
}

/** The helper's host process, found by its token while it sleeps. */
function findHelper(token: string): { session: number; ttyNr: number } | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (!cmd[0].endsWith('sti') || cmd[1] !== token) continue;
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { session: Number(f[3]), ttyNr: Number(f[4]) };
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Runs `command TOKEN 2` (the helper's argv) in a shell on a pty; the token names the file an injection makes. */
async function onPty(command: (token: string) => string, keys?: { after: string; send: string }): Promise<PtyRun> {
  const token = randomBytes(6).toString('hex');
  const child = spawn('/usr/bin/python3', [join(hostDir, 'driver.py'), command(token), '60', ...(keys ? [keys.after, keys.send] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise((r) => child.on('exit', r));
  let helper: PtyRun['helper'];
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    helper ??= findHelper(token);
    await sleep(40);
  }
  const shell = Number(/SHELL=(\d+)/.exec(out)?.[1]);
  const m = /STI (\d+):\d+ (\d+):\d+ (\d+):\d+ tty=(\d+):\d+/.exec(out);
  const injected = m ? Number(m[1]) + Number(m[2]) + Number(m[3]) + Number(m[4]) : -1;
  return { token, out, helper, shell, injected, exit: /EXIT=(\d+)/.exec(out)?.[1] ?? '' };
}

const tb = [process.execPath, CLI, '--root', root].map(q).join(' ');

/** Nothing reached the caller's shell: no file on the host, and (without a pty of the container's own,
 * whose echo the CLI shows) no injected text in the caller's terminal. */
function assertContained(t: { true(v: boolean, m?: string): void; false(v: boolean, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, r: PtyRun, o: { ownPty?: boolean } = {}) {
  t.is(r.exit, '0', r.out);
  t.true(r.injected >= 0, `no helper report: ${r.out}`);
  t.false(existsSync(`/tmp/PWNED-${r.token}`), `the caller's shell ran the injected command: ${r.out}`);
  rmSync(`/tmp/PWNED-${r.token}`, { force: true });
  if (!o.ownPty) {
    t.is(r.injected, 0, `TIOCSTI succeeded: ${r.out}`);
    t.false(r.out.includes('PWNED'), `injected input reached the caller's terminal: ${r.out}`);
  }
}

function assertOwnSession(t: { true(v: boolean, m?: string): void; not(a: unknown, b: unknown, m?: string): void; is(a: unknown, b: unknown, m?: string): void }, r: PtyRun) {
  t.true(r.helper !== undefined, `the helper was not seen running: ${r.out}`);
  t.not(r.helper!.session, r.shell, 'the container process is in the caller\'s session');
  t.is(r.helper!.ttyNr, 0, 'the container process has a controlling terminal');
}

test.serial('run (without -i, with -i, -it) on a terminal: no TIOCSTI into the caller, own session, no controlling tty', async (t) => {
  let r = await onPty((tok) => `${tb} run --rm sti /bin/sti ${tok} 2`);
  assertContained(t, r);
  assertOwnSession(t, r);
  r = await onPty((tok) => `${tb} run --rm -i sti /bin/sti ${tok} 2`);
  assertContained(t, r);
  assertOwnSession(t, r);
  // With -t the process has a pty of its own: TIOCSTI there is its own input, never the caller's.
  r = await onPty((tok) => `${tb} run --rm -it sti /bin/sti ${tok} 2`);
  assertContained(t, r, { ownPty: true });
  t.true(r.helper !== undefined && r.helper.session !== r.shell);
  // Exit codes still pass through the relays.
  r = await onPty(() => `${tb} run --rm sti sh -c 'echo relayed; exit 5'`);
  t.is(r.exit, '5', r.out);
  t.regex(r.out, /relayed/);
  // ^C on the caller's terminal reaches the CLI (the container is not in the terminal's session), which forwards it.
  r = await onPty(() => `${tb} run --rm sti sh -c 'trap "echo got-int; exit 7" INT; echo RE""ADY; while :; do sleep 0.1; done'`, { after: 'READY', send: '\x03' });
  t.is(r.exit, '7', r.out);
  t.regex(r.out, /got-int/);
});

test.serial('exec (without -i, with -i, -t) on a terminal: no TIOCSTI into the caller, own session', async (t) => {
  const name = `term-${randomBytes(3).toString('hex')}`;
  const d = tsbox(['run', '-d', '--name', name, 'sti', 'sleep', '120']);
  t.is(d.code, 0, d.stderr);
  let r = await onPty((tok) => `${tb} exec ${name} /bin/sti ${tok} 2`);
  assertContained(t, r);
  assertOwnSession(t, r);
  r = await onPty((tok) => `${tb} exec -i ${name} /bin/sti ${tok} 2`);
  assertContained(t, r);
  assertOwnSession(t, r);
  r = await onPty((tok) => `${tb} exec -it ${name} /bin/sti ${tok} 2`);
  assertContained(t, r, { ownPty: true });
  r = await onPty(() => `${tb} exec ${name} sh -c 'echo relayed; exit 6'`);
  t.is(r.exit, '6', r.out);
  t.regex(r.out, /relayed/);
  // Input goes through the relay with -i and only then.
  r = await onPty(() => `echo piped | ${tb} exec -i ${name} cat`);
  t.regex(r.out, /\npiped/);
  t.is(tsbox(['rm', '-f', name]).code, 0);
});

test.serial('sandbox on a terminal (its own pty, or pipes when stdout is not a terminal): no TIOCSTI into the caller', async (t) => {
  // stdin and stdout terminals: the sandbox gets a pty of its own.
  let r = await onPty((tok) => `${tb} sandbox -w / -- ${STI} ${tok} 2`);
  assertContained(t, r, { ownPty: true });
  t.true(r.helper !== undefined && r.helper.session !== r.shell, r.out);
  // stdout a pipe: stdin and stderr (terminals) are relayed through pipes.
  r = await onPty((tok) => `${tb} sandbox -w / -- ${STI} ${tok} 2 | cat`);
  assertContained(t, r);
  assertOwnSession(t, r);
  r = await onPty(() => `${tb} sandbox -w / -- sh -c 'echo relayed; exit 3'`);
  t.is(r.exit, '3', r.out);
  t.regex(r.out, /relayed/);
});

const podmanTest = havePodman() ? test.serial : test.serial.skip;

podmanTest('reference: podman with runc on the same terminal, run and exec; tsbox is at least as strict', async (t) => {
  const pm = podmanRef('term');
  t.teardown(() => pm.cleanup());
  const podman = ['podman', ...pm.base].map(q).join(' ');
  const limits = pm.runFlags.map(q).join(' ');
  const ref = await onPty((tok) => `${podman} run --rm ${limits} --rootfs ${q(rootfs)} /bin/sti ${tok} 2`);
  t.false(existsSync(`/tmp/PWNED-${ref.token}`), 'podman let the injection through');
  rmSync(`/tmp/PWNED-${ref.token}`, { force: true });
  const mine = await onPty((tok) => `${tb} run --rm sti /bin/sti ${tok} 2`);
  const id = spawnSync('podman', [...pm.base, 'run', '-d', ...pm.runFlags, '--rootfs', rootfs, 'sleep', '120'], { encoding: 'utf8' }).stdout.trim();
  t.truthy(id);
  const refExec = await onPty((tok) => `${podman} exec ${id} /bin/sti ${tok} 2`);
  t.log(`podman+runc run: injected ${ref.injected} chars (${/STI [^\r\n]*/.exec(ref.out)?.[0]}), session ${ref.helper?.session} vs caller ${ref.shell}, tty_nr ${ref.helper?.ttyNr}`);
  t.log(`podman+runc exec: injected ${refExec.injected} chars (${/STI [^\r\n]*/.exec(refExec.out)?.[0]}), tty_nr ${refExec.helper?.ttyNr}`);
  t.log(`tsbox run: injected ${mine.injected} chars (${/STI [^\r\n]*/.exec(mine.out)?.[0]}), session ${mine.helper?.session} vs caller ${mine.shell}, tty_nr ${mine.helper?.ttyNr}`);
  t.true(ref.injected >= 0 && refExec.injected >= 0, ref.out + refExec.out);
  // At least as strict: never more injected than the reference, and no controlling tty where it has none.
  t.true(mine.injected <= Math.min(ref.injected, refExec.injected));
  if (ref.helper?.ttyNr === 0) t.is(mine.helper?.ttyNr, 0);
  t.false(existsSync(`/tmp/PWNED-${refExec.token}`), 'podman exec let the injection through');
  rmSync(`/tmp/PWNED-${refExec.token}`, { force: true });
});
