// child_process parity, on the packed tarball: one table of cases run through child_process.spawn (the
// reference) and through tsbox's spawn(), run() and runContainer(), with the same observable results:
// stdio forms, events and their order, exit codes, signal exits, kill(), timeout with killSignal,
// AbortSignal, large output read by 'close', stdin backpressure, input.
//
// Inherent differences are rows of their own, not hidden: a container's command is pid 1 unless init is
// set, and the kernel gives pid 1 no default action for a signal it has no handler for (SIGKILL from
// outside aside). run() and runContainer() therefore take init: true in the common rows; spawn()'s
// sandbox never runs the command as pid 1.
import test from 'ava';
import { spawn as cpSpawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable, type Writable } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { BUSYBOX, leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { installedEngine, type InstalledEngine } from './helpers/installed-engine.js';
import { installedPackage } from './helpers/package.js';

type Kind = 'child_process' | 'spawn' | 'run' | 'runContainer';
const KINDS: Kind[] = ['child_process', 'spawn', 'run', 'runContainer'];

interface Proc extends EventEmitter {
  pid?: number;
  stdin: Writable | null;
  stdout: NodeJS.ReadableStream | null;
  stderr: NodeJS.ReadableStream | null;
  kill(signal?: NodeJS.Signals | number): boolean;
}

interface StartOptions {
  stdio?: 'pipe' | 'ignore' | 'inherit' | ('pipe' | 'ignore' | 'inherit' | number)[];
  timeout?: number;
  killSignal?: NodeJS.Signals;
  signal?: AbortSignal;
  input?: string | Readable;
  env?: Record<string, string>;
  cwd?: string;
  /** For run() and runContainer(): tsbox-init as pid 1 (default true in this table). */
  init?: boolean;
}

let engine: InstalledEngine;
const dir = mkdtempSync(join(tmpdir(), 'tsbox-parity-'));

test.before(async () => {
  engine = await installedEngine('tsbox-parity-root-');
});

test.after.always(() => {
  engine?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `sh -c script` the way `kind` does. child_process has no input option: its stdin gets it, as execa does. */
async function start(kind: Kind, script: string, o: StartOptions = {}): Promise<Proc> {
  const { input, init = true, ...opts } = o;
  const argv = ['sh', '-c', script];
  if (kind === 'child_process') {
    const cp = cpSpawn(BUSYBOX, argv, opts as never);
    if (typeof input === 'string') cp.stdin!.end(input);
    else if (input) input.pipe(cp.stdin!);
    return cp as unknown as Proc;
  }
  const { tsbox, root } = engine;
  if (kind === 'spawn') return (await tsbox.spawn(BUSYBOX, argv, { ...opts, input } as never)) as unknown as Proc;
  if (kind === 'run') return (await tsbox.run({ root, image: 'busybox', cmd: argv, init, ...opts, input } as never)) as unknown as Proc;
  const b = makeBundle(argv);
  try {
    const c = await tsbox.runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT, init, ...opts, input } as never);
    void c.exited.finally(() => removeBundle(b));
    return c as unknown as Proc;
  } catch (e) {
    removeBundle(b);
    throw e;
  }
}

interface Observed {
  events: string[];
  exit?: { code: number | null; signal: string | null };
  close?: { code: number | null; signal: string | null };
  errors: string[];
  stdout: string | number | null;
  stderr: string | null;
  stdin: 'stream' | null;
  [k: string]: unknown;
}

interface Case {
  name: string;
  script: string;
  opts?: StartOptions;
  /** Count stdout bytes instead of keeping the text. */
  countBytes?: boolean;
  /** Runs beside the process and adds what it saw to the observation. */
  drive?: (p: Proc, kind: Kind) => Promise<Record<string, unknown>>;
  abortAfter?: number;
  /** Kinds for which the row states a difference instead of parity, and what they give. */
  differs?: Partial<Record<Kind, (o: Observed) => Partial<Observed>>>;
  only?: Kind[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function observe(kind: Kind, c: Case): Promise<Observed> {
  const ac = new AbortController();
  const opts = { ...c.opts, ...(c.abortAfter ? { signal: ac.signal } : {}) };
  const p = await start(kind, c.script, opts);
  if (c.abortAfter) setTimeout(() => ac.abort(), c.abortAfter);
  const o: Observed = { events: [], errors: [], stdout: p.stdout ? '' : null, stderr: p.stderr ? '' : null, stdin: p.stdin ? 'stream' : null };
  let bytes = 0;
  p.stdout?.on('data', (d: Buffer) => {
    bytes += d.length;
    if (!c.countBytes) o.stdout += d.toString();
  });
  p.stderr?.on('data', (d: Buffer) => (o.stderr += d.toString()));
  p.on('spawn', () => o.events.push('spawn'));
  p.on('exit', (code: number | null, signal: string | null) => {
    o.events.push('exit');
    o.exit = { code, signal };
  });
  p.on('error', (e: Error) => o.errors.push(`${e.name}:${(e as NodeJS.ErrnoException).code}`));
  const closed = new Promise<void>((r) =>
    p.on('close', (code: number | null, signal: string | null) => {
      o.events.push('close');
      o.close = { code, signal };
      if (c.countBytes) o.stdout = bytes; // what had arrived by 'close'
      r();
    }),
  );
  const extra = c.drive ? await c.drive(p, kind) : {};
  await closed;
  Object.assign(o, extra);
  // An exited process takes no more signals: kill() says so, as child_process's does.
  o.killAfterExit = p.kill();
  return o;
}

const MIB = 1 << 20;

const CASES: Case[] = [
  { name: 'exit 0', script: 'echo out; echo err >&2; exit 0' },
  { name: 'exit 7', script: 'exit 7' },
  { name: 'exit 255', script: 'exit 255' },
  { name: 'a signal exit (kill -TERM $$)', script: 'kill -TERM $$; sleep 1; exit 3' },
  {
    name: 'a signal exit, no init: pid 1 has no default action for SIGTERM',
    script: 'kill -TERM $$; exit 3',
    opts: { init: false },
    // Inherent to containers (runc and docker do the same): the shell is pid 1 and lives on to exit 3.
    differs: { run: () => ({ exit: { code: 3, signal: null }, close: { code: 3, signal: null } }), runContainer: () => ({ exit: { code: 3, signal: null }, close: { code: 3, signal: null } }) },
  },
  {
    name: 'kill() (SIGTERM by default)',
    script: 'sleep 5',
    drive: async (p) => {
      await sleep(150);
      return { killed: p.kill() };
    },
  },
  {
    name: 'kill("SIGKILL")',
    script: 'sleep 5',
    drive: async (p) => {
      await sleep(150);
      return { killed: p.kill('SIGKILL') };
    },
  },
  { name: 'timeout', script: 'sleep 5', opts: { timeout: 300 } },
  { name: 'timeout with killSignal', script: 'sleep 5', opts: { timeout: 300, killSignal: 'SIGKILL' } },
  { name: 'AbortSignal', script: 'sleep 5', abortAfter: 300 },
  { name: 'env and cwd', script: 'echo "$A $B $PWD"; pwd', opts: { env: { A: 'one', B: 'two' }, cwd: '/tmp' } },
  { name: 'stdio "ignore"', script: 'echo lost; exit 4', opts: { stdio: 'ignore' } },
  { name: 'stdio array form', script: 'echo o; echo e >&2; read x; echo "$x" >&2', opts: { stdio: ['pipe', 'ignore', 'pipe'], input: 'typed\n' } },
  {
    name: 'stdio: a file descriptor',
    script: 'echo to-the-fd; echo again',
    opts: { stdio: ['ignore', -1, 'pipe'] },
  },
  { name: '8 MiB of output, all read by close', script: `head -c ${8 * MIB} /dev/zero; exit 2`, countBytes: true },
  { name: 'input (a string)', script: 'cat; echo end', opts: { input: 'hello\nworld\n' } },
  {
    name: 'stdin backpressure: write() returns false, then drain',
    script: 'sleep 0.3; wc -c',
    drive: async (p) => {
      const chunk = Buffer.alloc(MIB, 0x61);
      let full = 0;
      let drains = 0;
      p.stdin!.on('drain', () => drains++);
      for (let i = 0; i < 8; i++) {
        if (!p.stdin!.write(chunk)) {
          full++;
          await new Promise((r) => p.stdin!.once('drain', r));
        }
      }
      p.stdin!.end();
      return { writeReturnedFalse: full > 0, drained: drains >= full && drains > 0 };
    },
  },
];

for (const c of CASES) {
  test.serial(`parity: ${c.name}`, async (t) => {
    const results = {} as Record<Kind, Observed>;
    for (const kind of c.only ?? KINDS) {
      let fd: number | undefined;
      let file: string | undefined;
      const row = c.opts?.stdio && Array.isArray(c.opts.stdio) && c.opts.stdio.includes(-1) ? c : undefined;
      if (row) {
        file = join(dir, `fd-${kind}`);
        fd = openSync(file, 'w');
      }
      const cc = row ? { ...c, opts: { ...c.opts, stdio: c.opts!.stdio!.map((s) => (s === -1 ? fd! : s)) as StartOptions['stdio'] } } : c;
      try {
        const o = await observe(kind, cc.opts?.input === undefined ? cc : { ...cc, opts: { ...cc.opts } });
        if (file) o.file = readFileSync(file, 'utf8');
        results[kind] = o;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    t.log(JSON.stringify(results.child_process));
    const ref = results.child_process;
    t.deepEqual(ref.events, ['spawn', 'exit', 'close'], 'the reference itself');
    for (const kind of (c.only ?? KINDS).filter((k) => k !== 'child_process')) {
      const want = c.differs?.[kind] ? { ...ref, ...c.differs[kind]!(ref) } : ref;
      t.deepEqual(results[kind], want, `${kind} beside child_process`);
    }
  });
}

test.serial('parity: input as a Readable', async (t) => {
  const got: string[] = [];
  for (const kind of KINDS) {
    const p = await start(kind, 'cat', { input: Readable.from(['a', 'b', 'c\n']) });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d));
    await new Promise((r) => p.on('close', r));
    got.push(out);
  }
  t.deepEqual(got, ['abc\n', 'abc\n', 'abc\n', 'abc\n']);
});

test.serial('parity: stdio "inherit" writes to the parent\'s own stdout and stderr (a child Node process captures them)', (t) => {
  const script = join(dir, 'inherit.mjs');
  writeFileSync(
    script,
    `import * as tsbox from ${JSON.stringify(engine.entry)};
import { spawn } from 'node:child_process';
const [kind, root, busybox] = process.argv.slice(2);
const argv = ['sh', '-c', 'echo out; echo err >&2; exit 3'];
const p = kind === 'child_process' ? spawn(busybox, argv, { stdio: 'inherit' })
  : kind === 'spawn' ? await tsbox.spawn(busybox, argv, { stdio: 'inherit' })
  : await tsbox.run({ root, image: 'busybox', cmd: argv, stdio: 'inherit' });
const nulls = [p.stdin, p.stdout, p.stderr].every((s) => s === null);
p.on('close', (code) => (process.exitCode = code === 3 && nulls ? 0 : 1));
`,
  );
  const seen: Record<string, unknown> = {};
  for (const kind of ['child_process', 'spawn', 'run']) {
    const r = spawnSync(process.execPath, [script, kind, engine.root, BUSYBOX], { encoding: 'utf8', env: installedPackage().env, stdio: ['ignore', 'pipe', 'pipe'] });
    seen[kind] = { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  t.deepEqual(seen.child_process, { status: 0, stdout: 'out\n', stderr: 'err\n' });
  t.deepEqual(seen.spawn, seen.child_process);
  t.deepEqual(seen.run, seen.child_process);
});

test.serial('input to a process that closes its stdin at once: no error reaches the embedder, the exit is as usual', async (t) => {
  // A container that will not read must not crash the caller with EPIPE (an unhandled 'error'), as a
  // plain child_process stdin would without a listener.
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  t.teardown(() => process.off('uncaughtException', onUncaught));
  for (const kind of ['spawn', 'run', 'runContainer'] as const) {
    const p = await start(kind, 'exec 0<&-; sleep 0.2; exit 5', { input: Readable.from([Buffer.alloc(4 * MIB), Buffer.alloc(4 * MIB)]) });
    const errors: Error[] = [];
    p.on('error', (e: Error) => errors.push(e));
    p.stdout!.resume();
    p.stderr!.resume();
    const code = await new Promise((r) => p.on('close', r));
    t.is(code, 5, kind);
    t.deepEqual(errors, [], kind);
  }
  await sleep(100);
  t.deepEqual(uncaught, []);
});

test.serial('an unknown signal: TypeError ERR_UNKNOWN_SIGNAL from kill() and from killSignal, as child_process', async (t) => {
  const shape = (f: () => unknown) => {
    try {
      f();
      return 'no throw';
    } catch (e) {
      return { type: (e as Error).constructor.name, code: (e as NodeJS.ErrnoException).code };
    }
  };
  const cp = cpSpawn(BUSYBOX, ['sh', '-c', 'sleep 5']);
  const ref = shape(() => cp.kill('SIGNOPE' as NodeJS.Signals));
  cp.kill('SIGKILL');
  t.deepEqual(ref, { type: 'TypeError', code: 'ERR_UNKNOWN_SIGNAL' });
  t.deepEqual(shape(() => cpSpawn(BUSYBOX, ['true'], { killSignal: 'SIGNOPE' as NodeJS.Signals })), ref);
  for (const kind of ['spawn', 'run', 'runContainer'] as const) {
    const p = await start(kind, 'sleep 5');
    t.deepEqual(shape(() => p.kill('SIGNOPE' as NodeJS.Signals)), ref, kind);
    p.kill('SIGKILL');
    await new Promise((r) => p.on('close', r));
    const e = await t.throwsAsync(start(kind, 'true', { killSignal: 'SIGNOPE' as NodeJS.Signals }));
    t.deepEqual({ type: e!.constructor.name, code: (e as NodeJS.ErrnoException).code }, ref, kind);
  }
});

test.serial('one class for all three: instanceof, events and methods the same', async (t) => {
  const { tsbox } = engine;
  const procs = [await start('spawn', 'exit 0'), await start('run', 'exit 0'), await start('runContainer', 'exit 0')];
  for (const p of procs) {
    t.true(p instanceof tsbox.Container && p instanceof tsbox.ContainerProcess);
    for (const m of ['kill', 'stop', 'exec', 'stats', 'on', 'once'] as const) t.is(typeof (p as unknown as Record<string, unknown>)[m], 'function');
    await new Promise((r) => p.on('close', r));
  }
  t.regex((procs[1] as unknown as { name: string }).name, /^\w+_\w+$/, 'run() names the container');
});

test.serial('exec() into a running container takes the same options: env, cwd, input, timeout', async (t) => {
  for (const kind of ['run', 'runContainer'] as const) {
    const c = (await start(kind, 'sleep 30')) as unknown as { exec(a: string[], o: object): Promise<Proc & { closed: Promise<unknown> }>; kill(s: string): boolean; exited: Promise<unknown> };
    const e = await c.exec(['sh', '-c', 'echo "$X $PWD"; cat'], { env: { X: 'x', PATH: '/bin' }, cwd: '/tmp', input: 'fed\n' });
    let out = '';
    e.stdout!.on('data', (d: Buffer) => (out += d));
    t.deepEqual(await e.closed, { code: 0, signal: null }, kind);
    t.is(out, 'x /tmp\nfed\n', kind);
    const slow = await c.exec(['sleep', '10'], { timeout: 200, killSignal: 'SIGKILL', stdio: 'ignore' });
    t.deepEqual(await slow.closed, { code: null, signal: 'SIGKILL' }, kind);
    c.kill('SIGKILL');
    await c.exited;
  }
});

test.serial('stop({ timeout }) escalates to SIGKILL for a pid-1 command that ignores SIGTERM (run and runContainer, no init)', async (t) => {
  for (const kind of ['run', 'runContainer'] as const) {
    const p = (await start(kind, 'sleep 30', { init: false })) as unknown as { stop(o: { timeout: number }): Promise<unknown> };
    const t0 = Date.now();
    t.deepEqual(await p.stop({ timeout: 0.4 }), { code: null, signal: 'SIGKILL' });
    t.true(Date.now() - t0 >= 380, kind);
  }
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
