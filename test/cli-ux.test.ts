// The CLI as a docker user meets it: --help for every command, flag and argument errors in docker's
// words (compared with Debian's docker 20.10 client, which prints them without a daemon), the prune
// prompts, system df and stats in docker's columns, pull progress on a terminal, the platform warning.
import test from 'ava';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandNames } from '../ts/cli/main.js';
import { HELP } from '../ts/cli/help.js';
import { CLI } from './helpers/bins.js';
import { busyboxRootfs } from './helpers/bundle.js';
import { engineRoot, type EngineRoot } from './helpers/engine-root.js';
import { Layout, push, startRegistry, type Registry } from './helpers/registry.js';

const DOCKER = '/usr/bin/docker'; // Debian's docker.io 20.10 client
const work = mkdtempSync(join(tmpdir(), 'tsbox-cliux-'));
let engine: EngineRoot;
let reg: Registry;

test.before(async () => {
  engine = engineRoot('tsbox-cliux-root-');
  engine.importBusybox();
  reg = await startRegistry();
  // A layer of 4MB that gzip cannot shrink: its download comes in many chunks.
  const layout = join(work, 'layout');
  const l = new Layout(layout);
  const big = join(work, 'big');
  mkdirSync(big);
  writeFileSync(join(big, 'noise'), randomBytes(4 << 20));
  l.image([busyboxRootfs(), big], { tag: 'big' });
  l.image([busyboxRootfs()], { tag: 'arm', arch: 'arm64' });
  // A hostile config: terminal escapes in its architecture.
  l.image([busyboxRootfs()], { tag: 'evil', arch: 'arm\u001b]0;owned\u0007\u001b[2J' });
  l.write();
  await push(layout, 'big', `${reg.addr}/ux/big:latest`);
  await push(layout, 'arm', `${reg.addr}/ux/arm:latest`);
  await push(layout, 'evil', `${reg.addr}/ux/evil:latest`);
});

test.after.always(async () => {
  engine?.remove();
  await reg?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** The CLI, asynchronously (many at once), with its stdout, stderr and exit code. */
function tsbox(argv: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = execFile(process.execPath, [CLI, '--root', engine.root, ...argv], { timeout: 60000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
    if (input !== undefined) c.stdin!.end(input);
    else c.stdin!.end();
  });
}

/** docker's own text for argv, with no daemon to ask, "docker" as "tsbox". */
function docker(argv: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER, argv, { input, encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent', DOCKER_CONFIG: work } });
  const ours = (s: string) => s.replace(/\bdocker\b/g, 'tsbox');
  return { code: r.status, stdout: ours(r.stdout), stderr: ours(r.stderr) };
}

test('every registered command has a help entry, and --help, -h and help COMMAND answer on stdout with exit 0', async (t) => {
  const names = commandNames().filter((n) => !n.startsWith('_'));
  t.deepEqual(names.filter((n) => !HELP[n]), [], 'registered commands without a help entry');
  // The commands other parts of the engine bring have their entries already.
  for (const n of ['create', 'start', 'attach', 'events', 'diff', 'export', 'cp', 'build', 'commit', 'push', 'history', 'system service']) t.truthy(HELP[n], n);
  const paths = [...names, ...names.flatMap((n) => (HELP[n].subs ?? []).map(([s]) => `${n} ${s}`))];
  t.deepEqual(paths.filter((p) => !HELP[p]), [], 'group subcommands without a help entry');
  const results = await Promise.all(
    paths.map(async (p) => {
      const e = HELP[p];
      const argvs = [[...p.split(' '), '--help'], ['help', ...p.split(' ')]];
      if (!e.flags.some((f) => f[0] === 'h') && !e.own) argvs.push([...p.split(' '), '-h']);
      return Promise.all(argvs.map(async (argv) => ({ p, argv, e, r: await tsbox(argv) })));
    }),
  );
  for (const { p, argv, e, r } of results.flat()) {
    const what = `tsbox ${argv.join(' ')}`;
    t.is(r.code, 0, `${what}: ${r.stderr}`);
    if (e.own) {
      t.regex(r.stdout, /usage/i, what);
      continue;
    }
    t.true(r.stdout.includes(`Usage:  tsbox ${p}`), `${what}: ${r.stdout}`);
    t.true(r.stdout.includes(e.desc.split('\n')[0]), what);
    const flag = e.flags[0];
    if (flag) t.regex(r.stdout, new RegExp(`\\n ${flag[0] ? ` -${flag[0]},` : '    '} --${flag[1]}\\b.*   \\S`), what);
    if (e.subs) t.regex(r.stdout, new RegExp(`\\n  ${e.subs[0][0]} +\\S`), what);
  }
  // docker's layout, byte for byte, where tsbox has docker's flags (rm without --link).
  t.is((await tsbox(['rm', '--help'])).stdout, docker(['rm', '--help']).stdout.replace(/^ {2}-l, --link .*\n/m, ''));
  t.is((await tsbox(['rename', '--help'])).stdout, docker(['rename', '--help']).stdout);
  t.is((await tsbox(['network', '--help'])).stdout, docker(['network', '--help']).stdout);
  t.is((await tsbox(['network'])).stdout, docker(['network', '--help']).stdout);
  // run -h is --hostname, not help (as docker).
  const h = await tsbox(['run', '-h']);
  t.is(h.code, 125);
  t.is(h.stderr, docker(['run', '-h']).stderr);
});

test("flag errors in docker's words and exit code 125, argument counts with docker's usage text", async (t) => {
  const cases = [
    ['run', '--bogus'], ['run', '-z', 'x'], ['run', '--name'], ['run', '-e'], ['run', '-m', 'abc', 'busybox'], ['run', '-dz', 'busybox'],
    ['run', '--cpu-shares', 'x', 'busybox'], ['run'],
    ['ps', '--bogus'], ['ps', '-z'], ['ps', '--format'], ['ps', '-n', 'x'], ['ps', 'extra'], ['ps', '--all=maybe'],
    ['rm', '--bogus'], ['rm', '-z', 'c'], ['rm'], ['rm', '--force=false'],
    ['images', '--bogus'], ['images', '-z'], ['images', '--filter'], ['images', 'a', 'b'],
    ['tag', 'a'], ['logs'], ['exec', 'c'], ['cp', 'a'], ['port'], ['network', 'create'], ['volume', 'rm'], ['login', 'a', 'b'],
  ];
  const ours = await Promise.all(cases.map((c) => tsbox(c)));
  for (const [i, c] of cases.entries()) {
    const ref = docker(c);
    // rm --force=false with no container: docker's count error, the flag accepted.
    t.is(ours[i].stderr, ref.stderr, `tsbox ${c.join(' ')}`);
    t.is(ours[i].code, ref.code, `tsbox ${c.join(' ')}: exit code`);
    t.is(ours[i].stdout, '', `tsbox ${c.join(' ')}: stdout`);
  }
  t.is(ours[0].code, 125);
  t.is(ours[0].stderr, "unknown flag: --bogus\nSee 'tsbox run --help'.\n");
  // A flag value may begin with a dash, as pflag takes it (Node's parseArgs would refuse it).
  const dash = await tsbox(['images', '--format', '-{{.Repository}}', 'busybox']);
  t.is(dash.code, 0, dash.stderr);
  t.is(dash.stdout, '-busybox\n');
  const short = await tsbox(['images', '-f=reference=busybox', '-q']);
  t.is(short.code, 0, short.stderr);
  t.regex(short.stdout, /^[0-9a-f]{12}\n$/);
});

test.serial('system prune and image prune ask as docker does: no (or no answer) keeps, yes prunes', async (t) => {
  const made = await tsbox(['run', '--network', 'none', '--name', 'cliux-stopped', 'busybox', 'true']);
  t.is(made.code, 0, made.stderr);
  const exists = async () => (await tsbox(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').includes('cliux-stopped');
  // docker's warning without the build cache (tsbox keeps none).
  const warning = docker(['system', 'prune'], 'n\n').stdout.replace('  - all dangling build cache\n', '');
  for (const input of ['n\n', 'no\n', '', 'maybe\n']) {
    const r = await tsbox(['system', 'prune'], input);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, warning, JSON.stringify(input));
    t.true(await exists(), `answer ${JSON.stringify(input)} kept the container`);
  }
  const yes = await tsbox(['system', 'prune'], 'y\n');
  t.is(yes.code, 0, yes.stderr);
  t.true(yes.stdout.startsWith(warning));
  t.false(await exists());
  // -a changes the images line, as docker's.
  const all = await tsbox(['system', 'prune', '-a'], 'n\n');
  t.is(all.stdout, docker(['system', 'prune', '-a'], 'n\n').stdout.replace('  - all build cache\n', ''));
  // -f asks nothing.
  const forced = await tsbox(['system', 'prune', '-f'], '');
  t.false(forced.stdout.includes('WARNING'));
  for (const argv of [['image', 'prune'], ['image', 'prune', '-a']]) {
    t.is((await tsbox(argv, 'n\n')).stdout, docker(argv, 'n\n').stdout, argv.join(' '));
    t.is((await tsbox(argv)).stdout, docker(argv).stdout, `${argv.join(' ')}, no stdin`);
  }
  // -a with yes removes every image no container uses, as docker's: in a root of its own (the other tests
  // here need busybox), one image used by a container and one not.
  const own = engineRoot('tsbox-cliux-prune-');
  try {
    own.importBusybox();
    t.is(own.tsbox(['tag', 'busybox', 'unused:1']).code, 0);
    const imported = own.tsbox(['import', join(own.root, 'busybox.tar.gz'), 'used:1']);
    t.is(imported.code, 0, imported.stderr);
    t.is(own.tsbox(['create', '--network', 'none', 'used:1', 'true']).code, 0);
    const pruned = own.tsbox(['image', 'prune', '-a'], 'YES\n');
    t.is(pruned.code, 0, pruned.stderr);
    t.true(pruned.stdout.startsWith('WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] '));
    t.is(own.tsbox(['images', '--format', '{{.Repository}}:{{.Tag}}']).stdout, 'used:1\n');
  } finally {
    own.remove();
  }
});

test("system df: docker's columns with human sizes; stats: docker's columns, --no-stream once, streaming otherwise", async (t) => {
  const df = await tsbox(['system', 'df']);
  t.is(df.code, 0, df.stderr);
  const lines = df.stdout.trimEnd().split('\n');
  t.is(lines[0], 'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE');
  t.regex(lines[1], /^Images {10}\d+ +\d+ +\d+(\.\d+)?[kMG]?B +\d+(\.\d+)?[kMG]?B( \(\d+%\))?$/);
  t.regex(lines[2], /^Containers {6}\d+ +\d+ +\d+(\.\d+)?[kMG]?B +\d+(\.\d+)?[kMG]?B/);
  t.regex(lines[3], /^Local Volumes   \d+ +\d+ +\d+(\.\d+)?[kMG]?B/);

  const run = await tsbox(['run', '-d', '--network', 'none', '-m', '64m', '--name', 'cliux-stats', 'busybox', 'sh', '-c', 'head -c 3000000 /dev/zero > /dev/shm/x; sleep 60']);
  t.is(run.code, 0, run.stderr);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const once = await tsbox(['stats', '--no-stream', 'cliux-stats']);
    t.is(once.code, 0, once.stderr);
    const [head, row, ...rest] = once.stdout.trimEnd().split('\n');
    t.deepEqual(rest, []);
    t.deepEqual(head.split(/ {2,}/), ['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']);
    t.regex(row, /^[0-9a-f]{12} +cliux-stats +\d+\.\d\d% +\d+(\.\d+)?(B|KiB|MiB) \/ 64MiB +\d+\.\d\d% +\S+ \/ \S+ +\S+ \/ \S+ +[12]$/);
    // 3MB written to its /dev/shm counts in its memory (docker's binary units).
    t.regex(row, / (2\.\d+|3\.\d+|[4-9]\.\d+)MiB \/ 64MiB /, row);
    // On a network of its own, NET I/O counts what went through its interface (docker's decimal units).
    const netName = `cliux${randomBytes(3).toString('hex')}`;
    const made = await tsbox(['network', 'create', netName]);
    t.is(made.code, 0, made.stderr);
    const net = await tsbox(['run', '-d', '--network', netName, '--name', 'cliux-net', 'busybox', 'sh', '-c', 'ping -c 3 -i 0.2 -s 1000 $(ip route | awk "/default/ {print \\$3}"); sleep 60']);
    t.is(net.code, 0, net.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const io = await tsbox(['stats', '--no-stream', '--format', '{{.NetIO}}|{{.BlockIO}}', 'cliux-net']);
    await tsbox(['rm', '-f', 'cliux-net']);
    t.is((await tsbox(['network', 'rm', netName])).code, 0);
    t.is(io.code, 0, io.stderr);
    t.regex(io.stdout, /^\d+(\.\d+)?kB \/ \d+(\.\d+)?kB\|\S+ \/ \S+\n$/, io.stdout);
    // Streaming by default: without a terminal, the table again every second.
    const c = spawn(process.execPath, [CLI, '--root', engine.root, 'stats', 'cliux-stats'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    await new Promise((r) => setTimeout(r, 3200));
    c.kill('SIGTERM');
    await new Promise((r) => c.on('exit', r));
    const tables = out.split('\n').filter((l) => l.startsWith('CONTAINER ID')).length;
    t.true(tables >= 2 && tables <= 4, `${tables} tables in 3.2s: ${out}`);
    t.false(out.includes('\x1b'), 'no terminal escapes off a terminal');
    // On a terminal, the screen cleared and the table drawn again from the top, every second.
    const tty = onTty(['stats', 'cliux-stats'], 2.6);
    const frames = tty.out.split('\x1b[2J\x1b[H').slice(1);
    t.true(frames.length >= 2 && frames.length <= 4, `${frames.length} frames: ${JSON.stringify(tty.out)}`);
    for (const f of frames) t.regex(f, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\r?\n[0-9a-f]{12} +cliux-stats /);
  } finally {
    await tsbox(['rm', '-f', 'cliux-stats']);
  }
});

/** argv run on a pseudo-terminal 120 columns wide (script from bsdutils); what the terminal showed. */
function onTty(argv: string[], seconds?: number): { code: number | null; out: string } {
  const cmd = ['stty cols 120;', ...(seconds ? ['timeout', String(seconds)] : []), ...[process.execPath, CLI, '--root', engine.root, ...argv].map((a) => `'${a}'`)].join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout };
}

test('pull on a terminal shows bytes per layer (pull and run), plain lines otherwise; a platform mismatch warns', async (t) => {
  const ref = `${reg.addr}/ux/big:latest`;
  const tty = onTty(['pull', ref]);
  t.is(tty.code, 0, tty.out);
  // docker's JSONProgress: a 50-wide bar on terminals wider than 110 columns, then current/total.
  t.regex(tty.out, /[0-9a-f]{12}: Downloading \[=*>\s*\] +\d+(\.\d+)?[kM]B\/4\.\d+MB/);
  t.regex(tty.out, /[0-9a-f]{12}: Pull complete/);
  t.regex(tty.out, /\x1b\[\d+A/, 'lines rewritten in place');
  // Gone with its blobs, so that the next pulls download again.
  const gone = async () => {
    const rmi = await tsbox(['rmi', ref]);
    t.is(rmi.code, 0, rmi.stderr);
    t.is((await tsbox(['image', 'prune', '-f'])).code, 0);
  };
  await gone();
  const plain = await tsbox(['pull', ref]);
  t.is(plain.code, 0, plain.stderr);
  t.false(plain.stdout.includes('\x1b'));
  t.false(/Downloading .*B\//.test(plain.stdout), 'no byte counts off a terminal');
  t.regex(plain.stdout, /[0-9a-f]{12}: Downloading\n/);
  await gone();
  // run's implicit pull shows the same progress.
  const run = onTty(['run', '--rm', '--network', 'none', ref, 'true']);
  t.is(run.code, 0, run.out);
  t.regex(run.out, /Unable to find image '.*' locally/);
  t.regex(run.out, /[0-9a-f]{12}: Downloading \[=*>\s*\] +\d+(\.\d+)?[kM]B\/4\.\d+MB/);
  t.regex(run.out, /Pull complete/);
  // An image made for arm64 run on this amd64 host without --platform: docker's warning.
  const arm = `${reg.addr}/ux/arm:latest`;
  const warned = await tsbox(['run', '--rm', '--network', 'none', arm, 'true']);
  t.true(
    warned.stderr.includes("WARNING: The requested image's platform (linux/arm64) does not match the detected host platform (linux/amd64) and no specific platform was requested\n"),
    warned.stderr,
  );
  const asked = await tsbox(['run', '--rm', '--network', 'none', '--platform', 'linux/arm64', arm, 'true']);
  t.false(asked.stderr.includes('WARNING'), asked.stderr);
  // An image's architecture reaches the terminal quoted, never as escapes.
  const evil = await tsbox(['run', '--rm', '--network', 'none', `${reg.addr}/ux/evil:latest`, 'true']);
  t.true(evil.stderr.includes(String.raw`WARNING: The requested image's platform (linux/"arm\u001b]0;owned\u0007\u001b[2J") does not match`), evil.stderr);
  t.false(evil.stderr.includes('\x1b'), evil.stderr);
  const native = await tsbox(['run', '--rm', '--network', 'none', 'busybox', 'true']);
  t.false(native.stderr.includes('WARNING'), native.stderr);
});
