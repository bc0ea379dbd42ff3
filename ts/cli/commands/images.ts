// Image commands: pull, images (image ls), tag, rmi (image rm), image inspect, image verify, save, load,
// import, login, logout.
import { readFileSync } from 'node:fs';
import { familiarName, loadedLine, normalizedName, parseReference } from '../../engine/images.js';
import { Engine } from '../../engine/engine.js';
import { inspectObjects } from './inspect.js';
import { args, confirm, errorLine, UsageError, type Command } from '../common.js';
import { progress } from '../progress.js';
import { humanSize } from '../../engine/units.js';
import { formatFailure, formatList, parseFilters } from '../format/index.js';
import { imagesFormat, type ImageRow } from '../format/contexts.js';

/** docker's daemon-side failures (save, load, ...) exit 1 with "Error: ...", one line. */
async function orExit1(command: string, fn: () => Promise<void>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    process.stderr.write(`${errorLine(command, e as Error).split('\n')[0]}\n`);
    return 1;
  }
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
  const a = args(argv, {
    format: { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, filter: { type: 'string', short: 'f', multiple: true }, 'no-trunc': { type: 'boolean' },
    digests: { type: 'boolean' }, all: { type: 'boolean', short: 'a' },
  });
  try {
    const filters = parseFilters(a.values.filter);
    // docker images REPOSITORY[:TAG]: a reference filter.
    if (a.positionals.length > 1) throw new UsageError('"images" requires at most 1 argument: [REPOSITORY[:TAG]]');
    if (a.positionals[0]) (filters.reference ??= []).push(a.positionals[0]);
    const list = new Engine({ root: g.root }).images.list({ filters });
    // One row per tag, then one per repository it has only digests in, as docker's CLI shows them.
    const rows: ImageRow[] = list.flatMap((image) => {
      const tagged: ImageRow[] = image.RepoTags.map((name) => {
        const r = parseReference(name);
        const digest = image.RepoDigests.find((d) => d.startsWith(`${name.replace(/:[^:/]+$/, '')}@`))?.split('@')[1] ?? '<none>';
        return { image, repository: familiarName(r), tag: r.tag ?? '<none>', digest };
      });
      const digestOnly: ImageRow[] = [];
      for (const d of image.RepoDigests) {
        const repository = familiarName(parseReference(d));
        if (!tagged.some((row) => row.repository === repository) && !digestOnly.some((row) => row.repository === repository)) digestOnly.push({ image, repository, tag: '<none>', digest: d.split('@')[1] });
      }
      const all = [...tagged, ...digestOnly];
      return all.length ? all : [{ image, repository: '<none>', tag: '<none>', digest: '<none>' }];
    });
    if (a.values.quiet) {
      const ids = [...new Set(rows.map((r) => (a.values['no-trunc'] ? r.image.Id : r.image.Id.replace(/^sha256:/, '').slice(0, 12))))];
      process.stdout.write(ids.map((i) => `${i}\n`).join(''));
      return 0;
    }
    process.stdout.write(formatList(a.values.format, rows, imagesFormat({ trunc: !a.values['no-trunc'], digests: a.values.digests })));
    return 0;
  } catch (e) {
    return formatFailure(e);
  }
};

export const tagCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 2) throw new UsageError('tag: want SOURCE TARGET');
  new Engine({ root: g.root }).images.tag(a.positionals[0], a.positionals[1]);
  return 0;
};

export const rmiCommand: Command = async (argv, g) => {
  const a = args(argv, { force: { type: 'boolean', short: 'f' } });
  if (a.positionals.length === 0) throw new UsageError('rmi: want at least one image');
  let code = 0;
  for (const n of a.positionals) {
    try {
      for (const item of new Engine({ root: g.root }).images.remove(n, { force: a.values.force })) {
        process.stdout.write('Untagged' in item ? `Untagged: ${normalizedName(item.Untagged)}\n` : `Deleted: ${item.Deleted}\n`);
      }
    } catch (e) {
      process.stderr.write(`${errorLine('rmi', e as Error)}\n`);
      code = 1;
    }
  }
  return code;
};

export const imageCommand: Command = async (argv, g) => {
  const [sub, ...rest] = argv;
  const subs: Record<string, Command> = { ls: imagesCommand, list: imagesCommand, pull: pullCommand, rm: rmiCommand, tag: tagCommand, inspect: inspectObjects('image'), save: saveCommand, load: loadCommand, import: importCommand, prune: pruneCommand, verify: verifyCommand };
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
  // Checked against the registry before they are saved. A refusal is the daemon's, as docker prints it.
  const images = new Engine({ root: g.root }).images;
  try {
    await images.login(server, creds);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_USAGE') throw e;
    process.stderr.write(`Error response from daemon: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  }
  images.saveLogin(server, creds);
  process.stdout.write('Login Succeeded\n');
  return 0;
};

export const logoutCommand: Command = async (argv, g) => {
  const a = args(argv, {});
  if (a.positionals.length !== 1) throw new UsageError('logout: want SERVER');
  new Engine({ root: g.root }).images.logout(a.positionals[0]);
  process.stdout.write(`Removing login credentials for ${a.positionals[0]}\n`);
  return 0;
};

export const saveCommand: Command = async (argv, g) => {
  const a = args(argv, { output: { type: 'string', short: 'o' } });
  if (!a.values.output || a.positionals.length === 0) throw new UsageError('save: want -o FILE IMAGE...');
  return orExit1('save', () => new Engine({ root: g.root }).images.save(a.positionals, a.values.output!));
};

export const loadCommand: Command = async (argv, g) => {
  const a = args(argv, { input: { type: 'string', short: 'i' }, quiet: { type: 'boolean', short: 'q' } });
  if (!a.values.input) throw new UsageError('load: want -i FILE');
  return orExit1('load', async () => {
    for (const r of await new Engine({ root: g.root }).images.load(a.values.input!)) process.stdout.write(`${loadedLine(r)}\n`);
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
  return orExit1('import', async () => {
    const r = await new Engine({ root: g.root }).images.import(a.positionals[0], { name: a.positionals[1], changes: a.values.change ?? [] });
    process.stdout.write(`${r.id}\n`);
  });
};

export const pruneCommand: Command = async (argv, g) => {
  const a = args(argv, { force: { type: 'boolean', short: 'f' }, all: { type: 'boolean', short: 'a' } });
  const warning = `WARNING! This will remove all ${a.values.all ? 'images without at least one container associated to them' : 'dangling images'}.\nAre you sure you want to continue?`;
  if (!a.values.force && !(await confirm(warning))) {
    process.stdout.write('Total reclaimed space: 0B\n');
    return 0;
  }
  // -a: every image no container uses, as docker's; otherwise the dangling ones.
  const r = new Engine({ root: g.root }).images.prune({ all: a.values.all });
  // docker's lines: the images and their layers, then the space (the store's blobs count there).
  const lines = r.ImagesDeleted.map((i) => ('Untagged' in i ? `untagged: ${normalizedName(i.Untagged)}\n` : `deleted: ${i.Deleted}\n`));
  if (lines.length) process.stdout.write(`Deleted Images:\n${lines.join('')}\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}\n`);
  return 0;
};
