// tsbox build and tsbox commit: argv → the engine's builder (engine/build/) and commit, output as docker
// prints it (step lines with --progress plain, the image id with -q).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { args, UsageError, type Command } from '../common.js';
import { hostTool } from '../../host-tools.js';

function kv(list: string[] | undefined, what: string, env = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const x of list ?? []) {
    const i = x.indexOf('=');
    if (i < 0) {
      // --build-arg NAME takes the value from the environment, as docker does.
      if (env && process.env[x] !== undefined) out[x] = process.env[x]!;
      else if (!env) throw new UsageError(`${what} ${JSON.stringify(x)}: want KEY=VALUE`);
      continue;
    }
    out[x.slice(0, i)] = x.slice(i + 1);
  }
  return out;
}

function readStdin(): Buffer {
  const chunks: Buffer[] = [];
  const b = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, b, 0, b.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(b.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

export const buildCommand: Command = async (argv, g) => {
  const a = args(argv, {
    tag: { type: 'string', short: 't', multiple: true },
    file: { type: 'string', short: 'f' },
    'build-arg': { type: 'string', multiple: true },
    target: { type: 'string' },
    'no-cache': { type: 'boolean' },
    pull: { type: 'boolean' },
    label: { type: 'string', multiple: true },
    platform: { type: 'string' },
    network: { type: 'string' },
    progress: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    iidfile: { type: 'string' },
    secret: { type: 'string', multiple: true },
    rm: { type: 'boolean' },
    'force-rm': { type: 'boolean' },
  });
  if (a.positionals.length !== 1) throw new UsageError('build: want exactly 1 argument: CONTEXT (a directory, or - for a tar or a Dockerfile on stdin)');
  const network = a.values.network ?? 'none';
  if (!['none', 'host', 'default'].includes(network)) throw new UsageError(`build --network ${network}: want none, host or default`);
  if (a.values.progress && !['plain', 'tty', 'auto', 'quiet'].includes(a.values.progress)) throw new UsageError(`build --progress ${a.values.progress}: want plain, tty, auto or quiet`);
  const secrets: Record<string, string> = {};
  for (const s of a.values.secret ?? []) {
    const o = Object.fromEntries(s.split(',').map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
    const src = o.src ?? o.source ?? (o.env ? undefined : undefined);
    if (!o.id || !src) throw new UsageError(`build --secret ${s}: want id=ID,src=FILE`);
    if (!existsSync(src)) throw new UsageError(`build --secret ${s}: ${src}: no such file`);
    secrets[o.id] = resolve(src);
  }
  let context: string | undefined;
  let dockerfile: string;
  let tmp: string | undefined;
  const ctxArg = a.positionals[0];
  try {
    if (ctxArg === '-') {
      const data = readStdin();
      if (data.length >= 262 && data.subarray(257, 262).toString() === 'ustar') {
        tmp = mkdtempSync(join(tmpdir(), 'tsbox-context-'));
        mkdirSync(join(tmp, 'ctx'));
        writeFileSync(join(tmp, '.context.tar'), data);
        const r = spawnSync(hostTool('tar'), ['-x', '--no-same-owner', '-C', join(tmp, 'ctx'), '-f', join(tmp, '.context.tar')], { encoding: 'utf8' });
        if (r.status !== 0) throw new UsageError(`build: the context on stdin is not a readable tar: ${r.stderr.trim()}`);
        context = join(tmp, 'ctx');
      } else if (data[0] === 0x1f && data[1] === 0x8b) {
        throw new UsageError('build: a compressed context on stdin is not supported: send a plain tar');
      } else dockerfile = data.toString();
    } else {
      if (!existsSync(ctxArg) || !statSync(ctxArg).isDirectory()) throw new UsageError(`build: unable to prepare context: path ${JSON.stringify(ctxArg)} not found or not a directory`);
      context = resolve(ctxArg);
    }
    const dfPath = a.values.file === '-' ? undefined : a.values.file ? resolve(context && !a.values.file.startsWith('/') && !existsSync(a.values.file) ? join(context, a.values.file) : a.values.file) : context ? join(context, 'Dockerfile') : undefined;
    if (a.values.file === '-') dockerfile = readStdin().toString();
    else if (dfPath) {
      try {
        dockerfile = readFileSync(dfPath, 'utf8');
      } catch (e) {
        throw new UsageError(`build: cannot read the Dockerfile ${dfPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const quiet = a.values.quiet === true;
    const { build } = await import('../../engine/build/builder.js');
    const epoch = process.env.SOURCE_DATE_EPOCH;
    if (epoch !== undefined && !/^\d+$/.test(epoch)) throw new UsageError(`SOURCE_DATE_EPOCH=${epoch}: want seconds since 1970`);
    const out = (s: string) => {
      if (!quiet) process.stderr.write(s);
    };
    const r = await build(g.root, {
      context,
      dockerfile: dockerfile!,
      dockerfileName: dfPath ? dfPath.replace(/^.*\//, '') : 'Dockerfile',
      tags: a.values.tag ?? [],
      buildArgs: kv(a.values['build-arg'], '--build-arg', true),
      target: a.values.target,
      noCache: a.values['no-cache'] === true,
      pull: a.values.pull === true,
      labels: kv(a.values.label, '--label'),
      network: network as 'none' | 'host' | 'default',
      secrets,
      sourceDateEpoch: epoch !== undefined ? Number(epoch) : undefined,
      platform: a.values.platform,
      onStep: (e) => out(`#${e.step} [${e.stage}] ${e.text}${e.cached ? '\n#' + e.step + ' CACHED' : ''}\n`),
      onOutput: (b) => out(b.toString()),
    });
    if (a.values.iidfile) writeFileSync(a.values.iidfile, r.id);
    if (quiet) process.stdout.write(`${r.id}\n`);
    else {
      process.stderr.write(`exporting manifest ${r.digest} done\nwriting image ${r.id} done\n`);
      for (const t of r.names) process.stderr.write(`naming to ${t} done\n`);
    }
    return 0;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
};

export const commitCommand: Command = async (argv, g) => {
  // --pause is docker's boolean that defaults to true: --pause=false turns it off.
  const noPause = argv.some((x) => /^(--pause|-p)=(false|0)$/.test(x));
  const a = args(
    argv.filter((x) => !/^(--pause|-p)=/.test(x)),
    {
      change: { type: 'string', short: 'c', multiple: true },
      message: { type: 'string', short: 'm' },
      author: { type: 'string', short: 'a' },
      pause: { type: 'boolean', short: 'p' },
    },
  );
  if (a.positionals.length < 1 || a.positionals.length > 2) throw new UsageError('commit: want CONTAINER [REPOSITORY[:TAG]]');
  const pause = !noPause;
  const { commitContainer } = await import('../../engine/commit.js');
  const r = await commitContainer(g.root, a.positionals[0], { changes: a.values.change, message: a.values.message, author: a.values.author, pause, name: a.positionals[1] });
  process.stdout.write(`${r.id}\n`);
  return 0;
};
