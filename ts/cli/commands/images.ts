// Image commands: pull, images (image ls), tag, rmi (image rm), image inspect, image verify, save, load,
// import, login, logout.
import { readFileSync } from 'node:fs';
import { familiarName, parseReference } from '../../images/reference.js';
import { Engine } from '../../engine/engine.js';
import { EngineError } from '../../engine/containers.js';
import { saveCredentials } from '../../images/auth.js';
import { RegistryClient } from '../../images/registry.js';
import { args, UsageError, type Command, type GlobalOptions } from '../common.js';
import { progress } from '../progress.js';

/** docker's daemon-side failures (save, load, ...) exit 1 with "Error: ...", one line. */
async function orExit1(fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    process.stderr.write(`Error: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  }
}

/** tag and image inspect have always reported a missing image as a tsbox error (exit 125), not docker's 1. */
function asTsboxError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EngineError) throw new Error(e.message);
    throw e;
  }
}

function human(bytes: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let n = bytes;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n < 10 && i ? n.toFixed(2) : n < 100 && i ? n.toFixed(1) : Math.round(n)}${u[i]}`;
}

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} seconds ago`;
  if (s < 3600) return `${Math.round(s / 60)} minutes ago`;
  if (s < 86400) return `${Math.round(s / 3600)} hours ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export const pullCommand: Command = async (argv, g) => {
  const a = args(argv, { platform: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, 'insecure-registry': { type: 'string', multiple: true } });
  if (a.positionals.length !== 1) throw new UsageError('pull: want exactly one image name (tsbox pull [--platform OS/ARCH] NAME)');
  const name = a.positionals[0];
  const quiet = a.values.quiet ?? false;
  const rec = await new Engine({ root: g.root }).images.pull(name, {
    platform: a.values.platform,
    insecureRegistries: a.values['insecure-registry'],
    onProgress: quiet ? undefined : progress().status,
  });
  if (!quiet) process.stdout.write(`Digest: ${rec.digest}\nStatus: Downloaded newer image for ${rec.name}\n`);
  process.stdout.write(`${rec.name}\n`);
  return 0;
};

export const imagesCommand: Command = async (argv, g) => {
  const a = args(argv, { format: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } });
  const list = new Engine({ root: g.root }).images.list();
  if (a.values.quiet) {
    for (const i of list) process.stdout.write(`${i.Id.slice(7, 19)}\n`);
    return 0;
  }
  // One row per tag, as docker's CLI shows them.
  const rows = list.flatMap((i) =>
    i.RepoTags.map((tag) => {
      const r = parseReference(tag);
      const created = new Date(i.Created * 1000).toISOString();
      return { Repository: familiarName(r), Tag: r.tag ?? '<none>', ID: i.Id.slice(7, 19), CreatedAt: created, CreatedSince: ago(created), Size: human(i.Size) };
    }),
  );
  if (a.values.format === 'json') {
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  if (a.values.format) throw new UsageError(`images: unsupported --format ${JSON.stringify(a.values.format)} (json)`);
  const w = (s: string, n: number) => s.padEnd(n);
  const repoW = Math.max(10, ...rows.map((r) => r.Repository.length)) + 3;
  process.stdout.write(`${w('REPOSITORY', repoW)}${w('TAG', 12)}${w('IMAGE ID', 15)}${w('CREATED', 18)}SIZE\n`);
  for (const r of rows) process.stdout.write(`${w(r.Repository, repoW)}${w(r.Tag, 12)}${w(r.ID, 15)}${w(r.CreatedSince, 18)}${r.Size}\n`);
  return 0;
};

export const tagCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 2) throw new UsageError('tag: want SOURCE TARGET');
  asTsboxError(() => new Engine({ root: g.root }).images.tag(a.positionals[0], a.positionals[1]));
  return 0;
};

export const rmiCommand: Command = async (argv, g) => {
  const a = args(argv, { force: { type: 'boolean', short: 'f' } });
  if (a.positionals.length === 0) throw new UsageError('rmi: want at least one image');
  let code = 0;
  for (const n of a.positionals) {
    try {
      for (const item of new Engine({ root: g.root }).images.remove(n, { force: a.values.force })) {
        process.stdout.write('Untagged' in item ? `Untagged: ${item.Untagged}\n` : `Deleted: ${item.Deleted}\n`);
      }
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      code = 1;
    }
  }
  return code;
};

const inspect = async (argv: string[], g: GlobalOptions) => {
  const a = args(argv, {});
  const images = new Engine({ root: g.root }).images;
  const out = a.positionals.map((n) => asTsboxError(() => images.inspect(n)));
  process.stdout.write(JSON.stringify(out, null, 4) + '\n');
  return 0;
};

export const imageCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  const subs: Record<string, Command> = { ls: imagesCommand, list: imagesCommand, pull: pullCommand, rm: rmiCommand, tag: tagCommand, inspect, save: saveCommand, load: loadCommand, import: importCommand, prune: pruneCommand, verify: verifyCommand };
  if (sub === 'push' || sub === 'history') return (await import('./push.js'))[sub === 'push' ? 'pushCommand' : 'historyCommand'](rest, g);
  const c = sub ? subs[sub] : undefined;
  if (!c) throw new UsageError(`image: unknown subcommand ${JSON.stringify(sub ?? '')} (ls, pull, rm, tag, inspect, save, load, import, prune, verify)`);
  return c(rest, g);
};

export const loginCommand: Command = async (argv, g) => {
  const a = args(argv, { username: { type: 'string', short: 'u' }, password: { type: 'string', short: 'p' }, 'password-stdin': { type: 'boolean' } });
  const server = a.positionals[0];
  if (!server || !a.values.username) throw new UsageError('login: want -u USER [-p PASSWORD | --password-stdin] SERVER');
  const password = a.values['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : a.values.password;
  if (password === undefined) throw new UsageError('login: give a password with -p or --password-stdin');
  const creds = { username: a.values.username, password };
  // Check the credentials against the registry before saving them.
  await new RegistryClient(server, { credentials: creds }).get('');
  saveCredentials(g.root, server, creds);
  process.stdout.write('Login Succeeded\n');
  return 0;
};

export const logoutCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 1) throw new UsageError('logout: want SERVER');
  saveCredentials(g.root, a.positionals[0], undefined);
  process.stdout.write(`Removing login credentials for ${a.positionals[0]}\n`);
  return 0;
};

export const saveCommand: Command = async (argv, g) => {
  const a = args(argv, { output: { type: 'string', short: 'o' } });
  if (!a.values.output || a.positionals.length === 0) throw new UsageError('save: want -o FILE IMAGE...');
  const { save } = await import('../../images/archive.js');
  return orExit1(() => save(g.root, a.positionals, a.values.output!));
};

export const loadCommand: Command = async (argv, g) => {
  const a = args(argv, { input: { type: 'string', short: 'i' }, quiet: { type: 'boolean', short: 'q' } });
  if (!a.values.input) throw new UsageError('load: want -i FILE');
  const { load } = await import('../../images/archive.js');
  return orExit1(async () => {
    for (const r of await load(g.root, a.values.input!)) process.stdout.write(`Loaded image: ${r.name}\n`);
  });
};

/** image verify [IMAGE...] (also system check): every blob re-hashed, every unpacked layer compared with its record. */
export const verifyCommand: Command = async (argv, g) => {
  const a = args(argv, { quiet: { type: 'boolean', short: 'q' } });
  const { verifyImages } = await import('../../images/verify.js');
  const reports = await verifyImages(g.root, a.positionals);
  let bad = 0;
  for (const r of reports) {
    for (const p of r.problems) process.stdout.write(`${r.image}: ${p}\n`);
    if (r.problems.length) bad++;
    else if (!a.values.quiet) process.stdout.write(`${r.image}: OK${r.unrecorded.length ? ` (${r.unrecorded.length} layer(s) unpacked without a record of their files: contents not compared)` : ''}\n`);
  }
  if (bad) process.stderr.write(`Error: ${bad} of ${reports.length} image(s) corrupt or changed: remove them (tsbox rmi) and pull them again\n`);
  return bad ? 1 : 0;
};

export const importCommand: Command = async (argv, g) => {
  const a = args(argv, { change: { type: 'string', short: 'c', multiple: true } });
  if (a.positionals.length < 1 || a.positionals.length > 2) throw new UsageError('import: want FILE [REPOSITORY[:TAG]]');
  const { importRootfs } = await import('../../images/archive.js');
  return orExit1(async () => {
    const r = await importRootfs(g.root, a.positionals[0], a.positionals[1] ?? `localhost/imported:${Date.now()}`, a.values.change ?? []);
    process.stdout.write(`${r.config}\n`);
  });
};

export const pruneCommand: Command = async (argv, g) => {
  args(argv, { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } });
  const { prune } = await import('../../images/archive.js');
  const removed = prune(g.root);
  for (const d of removed) process.stdout.write(`deleted: ${d}\n`);
  process.stdout.write(`Total reclaimed: ${removed.length} objects\n`);
  return 0;
};
