#!/usr/bin/env node
// Writes ts/cli/help-table.ts from docker 20.10's own --help texts (Debian's /usr/bin/docker, which
// prints help without a daemon), keeping for each command only the flags tsbox implements.
// Re-run after adding a flag: node scripts/gen-help.mjs
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const DOCKER = process.env.DOCKER_CLI ?? '/usr/bin/docker';
const RUN = ['rm', 'detach', 'interactive', 'tty', 'name', 'env', 'env-file', 'workdir', 'user', 'hostname', 'volume', 'mount', 'tmpfs', 'read-only', 'entrypoint', 'init', 'privileged', 'cap-add', 'cap-drop', 'security-opt', 'memory', 'memory-swap', 'cpus', 'cpu-shares', 'cpu-quota', 'cpu-period', 'cpuset-cpus', 'pids-limit', 'ulimit', 'sysctl', 'network', 'label', 'label-file', 'stop-signal', 'stop-timeout', 'restart', 'platform', 'publish', 'publish-all', 'dns', 'dns-search', 'add-host', 'network-alias', 'ip', 'detach-keys', 'log-driver', 'log-opt', 'attach'];
const ALL = '*';
// docker path -> the flags tsbox implements ('*': all of docker's, for commands written to docker's docs).
const CMDS = {
  run: RUN, create: RUN, ps: ['all', 'quiet', 'format', 'no-trunc', 'filter', 'last', 'latest', 'size'],
  start: ALL, stop: ['time', 'signal'], restart: ['time', 'signal'], kill: ['signal'], rm: ['force', 'volumes'],
  logs: ['follow', 'tail', 'timestamps', 'since', 'until'], exec: ['interactive', 'tty', 'detach', 'env', 'workdir', 'user', 'detach-keys'],
  inspect: ['format', 'size', 'type'], wait: [], pause: [], unpause: [], top: [], stats: ['no-stream', 'format', 'all', 'no-trunc'],
  cp: ['archive', 'follow-link'], port: [], rename: [], attach: ALL, events: ALL, diff: ALL, export: ALL, update: ALL, commit: ALL,
  'container prune': ['force', 'filter'],
  pull: ['platform', 'quiet'], push: ['quiet', 'all-tags'], images: ['format', 'quiet', 'filter', 'no-trunc', 'digests', 'all'],
  tag: [], rmi: ['force'], login: ['username', 'password', 'password-stdin'], logout: [], save: ['output'], load: ['input', 'quiet'],
  import: ['change'], history: ['no-trunc', 'quiet', 'format', 'human'], build: ALL,
  'image inspect': ['format'], 'image prune': ['force', 'all'],
  'network create': ['subnet', 'driver', 'label'], 'network ls': ['quiet', 'filter', 'no-trunc', 'format'], 'network rm': [],
  'network inspect': ['format', 'verbose'], 'network prune': ['force', 'filter'], 'network connect': ['alias', 'ip'], 'network disconnect': ['force'],
  'volume create': ['driver', 'opt', 'label', 'name'], 'volume ls': ['quiet', 'filter', 'format'], 'volume inspect': ['format'],
  'volume rm': ['force'], 'volume prune': ['force', 'filter'],
  'system df': [], 'system prune': ['force', 'all'], info: ['format'], version: ['format'],
};
// Group commands: docker's subcommand names -> the top-level command whose flags they share.
const GROUPS = {
  container: { attach: 'attach', commit: 'commit', cp: 'cp', create: 'create', diff: 'diff', exec: 'exec', export: 'export', inspect: 'inspect', kill: 'kill', logs: 'logs', ls: 'ps', pause: 'pause', port: 'port', prune: 'container prune', rename: 'rename', restart: 'restart', rm: 'rm', run: 'run', start: 'start', stats: 'stats', stop: 'stop', top: 'top', unpause: 'unpause', update: 'update', wait: 'wait' },
  image: { build: 'build', history: 'history', import: 'import', inspect: 'image inspect', load: 'load', ls: 'images', prune: 'image prune', pull: 'pull', push: 'push', rm: 'rmi', save: 'save', tag: 'tag' },
  network: {}, volume: {}, system: { df: 'system df', events: 'events', info: 'info', prune: 'system prune' },
};
// Commands whose flags end at the first argument (docker's SetInterspersed(false)).
const NOT_INTERSPERSED = new Set(['run', 'create', 'exec']);
// Flags tsbox has that docker 20.10's help does not list: [short, long, type, help].
const EXTRA = {
  stop: [['s', 'signal', 'string', 'Signal to send to the container']],
  restart: [['s', 'signal', 'string', 'Signal to send to the container']],
  create: [['d', 'detach', '', 'Run container in background and print container ID'], ['', 'detach-keys', 'string', 'Override the key sequence for detaching a container']],
  'container inspect': [['', 'type', 'string', 'Return JSON for specified type']],
  'volume create': [['', 'name', 'string', 'Specify volume name']],
  pull: [['', 'insecure-registry', 'list', 'Use plain HTTP and unverified TLS for this registry (tsbox)']],
  push: [['', 'insecure-registry', 'list', 'Use plain HTTP and unverified TLS for this registry (tsbox)']],
};
// Argument counts docker checks other than the usage line says (top passes ps's own options on).
const ARGS = { top: [1, -1], 'system df': [0, 0], build: [1, 1] };

function dockerHelp(path) {
  return execFileSync(DOCKER, [...path.split(' ').filter(Boolean), '--help'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent', COLUMNS: '1000' } });
}

function parse(path, text) {
  const lines = text.split('\n');
  let i = lines.findIndex((l) => l.startsWith('Usage:'));
  const usage = [lines[i].replace(/^Usage:\s+docker /, '')];
  for (i++; lines[i]?.trim(); i++) usage.push(lines[i].trim().replace(/^docker /, ''));
  while (!lines[i]?.trim()) i++;
  const desc = [];
  for (; i < lines.length && !/^(Options|Commands|Aliases|Management Commands):/.test(lines[i]); i++) desc.push(lines[i]);
  const flags = [];
  const subs = [];
  let section = '';
  for (; i < lines.length; i++) {
    const l = lines[i];
    if (/^\S.*:$/.test(l)) { section = l; continue; }
    if (section === 'Options:') {
      const m = /^\s+(?:-(\w), )?\s*--([\w-]+)(?: (\w+))?\s{2,}(.*)$/.exec(l);
      if (m) flags.push([m[1] ?? '', m[2], m[3] ?? '', m[4].trim()]);
      else if (l.trim() && flags.length) flags[flags.length - 1][3] += ` ${l.trim()}`;
    } else if (section === 'Commands:' || section === 'Management Commands:') {
      const m = /^\s+(\S+)\s+(.*)$/.exec(l);
      if (m) subs.push([m[1], m[2]]);
    }
  }
  const ours = (t) => t.replace(/\bdocker\b/g, 'tsbox');
  return { usage, desc: ours(desc.join('\n').trim()), flags, subs: subs.map(([n, d]) => [n, ours(d)]) };
}

/** [min, max] from the usage line: bare words are required, [..] optional, ... unbounded (-1). */
function argCount(tail) {
  tail = tail.replace(/^\s*\[OPTIONS\]/, '');
  let min = 0, max = 0, depth = 0;
  for (const tok of tail.replace(/\s*\|\s*/g, '|').split(' ').filter(Boolean)) {
    const opt = depth > 0 || tok.startsWith('[');
    depth += (tok.match(/\[/g) ?? []).length - (tok.match(/\]/g) ?? []).length;
    if (tok.includes('...')) max = -1;
    if (!opt) min++;
    if (max !== -1) max++;
  }
  return [min, max];
}

// docker's one-line descriptions (a command's help may show a longer one; its errors show this).
const SHORT = {};
for (const [n, d] of parse('', dockerHelp('')).subs) SHORT[n] = d;
const out = {};
function add(path, impl) {
  const p = parse(path, dockerHelp(path));
  const keep = CMDS[impl];
  const flags = keep === ALL ? p.flags : p.flags.filter((f) => keep.includes(f[1]));
  const missing = keep === ALL ? [] : keep.filter((k) => !p.flags.some((f) => f[1] === k) && !(EXTRA[impl] ?? EXTRA[path] ?? []).some((f) => f[1] === k));
  const first = p.usage[0];
  for (const f of EXTRA[impl] ?? EXTRA[path] ?? []) if (!flags.some((x) => x[1] === f[1])) flags.push(f);
  flags.sort((a, b) => a[1].localeCompare(b[1]));
  const e = { usage: p.usage, desc: p.desc, flags, args: ARGS[impl] ?? argCount(first.slice(path.length)) };
  if (SHORT[path] && SHORT[path] !== p.desc.split('\n')[0]) e.short = SHORT[path];
  if (NOT_INTERSPERSED.has(impl)) e.interspersed = false;
  if (missing.length) e.missingFromDocker = missing;
  out[path] = e;
}
for (const c of Object.keys(CMDS)) if (!c.includes(' ')) add(c, c);
for (const [g, subs] of Object.entries(GROUPS)) {
  const p = parse(g, dockerHelp(g));
  out[g] = { usage: p.usage, desc: p.desc, flags: [], args: [0, -1], subs: p.subs.filter(([s]) => subs[s] || CMDS[`${g} ${s}`]).map(([s, d]) => [s, d]) };
  for (const [s, d] of p.subs) SHORT[`${g} ${s}`] = d;
  for (const [s] of out[g].subs) add(`${g} ${s}`, subs[s] ?? `${g} ${s}`);
}
for (const e of Object.values(out)) if (e.missingFromDocker) { process.stderr.write(`not in docker's help: ${JSON.stringify(e.missingFromDocker)} (${e.usage[0]})\n`); delete e.missingFromDocker; }
const body = JSON.stringify(out, null, 1).replace(/\n\s+(?=[\]"\d-])/g, ' ').replace(/\[ /g, '[');
writeFileSync(new URL('../ts/cli/help-table.ts', import.meta.url), `// Generated by scripts/gen-help.mjs from docker 20.10's --help texts: do not edit by hand.
// The tsbox-only commands and flags are in help.ts.
import type { HelpEntry } from './help.js';

export const DOCKER_HELP: Record<string, HelpEntry> = ${body};
`);
