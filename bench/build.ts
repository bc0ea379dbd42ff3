// The build benchmark: tsbox build next to buildah bud (Debian's, vfs storage, chroot isolation) on the
// same Dockerfile and base image, first build (no cache) and cached rebuild; each in its private store.
// Writes its section of bench/RESULTS.md ("### (h) build"), leaving the other sections as they are.
// Usage: npm run compile && node --import=tsx bench/build.ts [--rounds N]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alternate, table } from './stats.js';
import { rootfs, have } from './fixtures.js';
import { dockerArchive } from '../test/helpers/archive.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
const ROUNDS = Number(values.rounds ?? 5);
const CLI = join(import.meta.dirname, '..', 'dist', 'tsbox.cjs');
const dir = mkdtempSync(join(tmpdir(), 'tsbox-bench-build-'));
const ctx = join(dir, 'ctx');
mkdirSync(join(ctx, 'src'), { recursive: true });
for (let i = 0; i < 50; i++) writeFileSync(join(ctx, 'src', `f${i}.txt`), `file ${i}\n`.repeat(200));
writeFileSync(
  join(ctx, 'Dockerfile'),
  `FROM localhost/bench-base
ENV APP=/app
RUN mkdir -p /app/data && for i in $(seq 1 200); do echo $i > /app/data/$i; done
COPY src/ /app/src/
WORKDIR /app
RUN cat src/*.txt | wc -l > lines && rm -rf /app/data/1*
CMD ["cat", "/app/lines"]
`,
);
const archive = join(dir, 'base.tar');
dockerArchive(rootfs(), archive, 'localhost/bench-base:latest');

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')}: exit ${r.status}: ${r.stderr}`);
}

const tsRoot = join(dir, 'tsbox');
const tsbox = (...args: string[]) => must(process.execPath, [CLI, '--root', tsRoot, ...args]);
tsbox('load', '-i', archive);
// The base as tsbox builds it (history for every layer, which buildah --layers wants), for both.
mkdirSync(join(dir, 'base'));
writeFileSync(join(dir, 'base', 'Dockerfile'), 'FROM localhost/bench-base\nLABEL bench=base\n');
tsbox('build', '-t', 'localhost/bench-base', join(dir, 'base'));
tsbox('save', '-o', join(dir, 'base2.tar'), 'localhost/bench-base');
const bRoot = join(dir, 'buildah');
const buildah = (...args: string[]) => must('buildah', ['--root', join(bRoot, 'root'), '--runroot', join(bRoot, 'runroot'), '--storage-driver', 'vfs', ...args]);
const withBuildah = have('buildah');
if (withBuildah) buildah('pull', `docker-archive:${join(dir, 'base2.tar')}`);

try {
  tsbox('build', '-t', 'bench:1', ctx);
  if (withBuildah) buildah('bud', '--isolation', 'chroot', '--layers', '--pull-never', '-t', 'bench:1', ctx);
  const rows = await alternate(
    [
      { name: 'tsbox build (no cache)', run: () => tsbox('build', '-q', '--no-cache', '-t', 'bench:1', ctx) },
      { name: 'tsbox build (cached)', run: () => tsbox('build', '-q', '-t', 'bench:1', ctx) },
      ...(withBuildah
        ? [
            { name: 'buildah bud --layers (no cache)', run: () => buildah('bud', '-q', '--isolation', 'chroot', '--layers', '--no-cache', '--pull-never', '-t', 'bench:1', ctx) },
            { name: 'buildah bud --layers (cached)', run: () => buildah('bud', '-q', '--isolation', 'chroot', '--layers', '--pull-never', '-t', 'bench:1', ctx) },
          ]
        : []),
    ],
    ROUNDS,
    1,
  );
  const section = `${table('(h) build: a 6-step Dockerfile (2 RUN, COPY of 50 files), first build and cached rebuild (private stores; buildah: vfs, chroot isolation)', rows)}\n${new Date().toISOString()}, ${ROUNDS} rounds, cases in alternation.\n`;
  const results = join(import.meta.dirname, 'RESULTS.md');
  const md = existsSync(results) ? readFileSync(results, 'utf8') : '# tsbox benchmarks\n';
  const start = md.indexOf('### (h) build');
  const next = start < 0 ? -1 : md.indexOf('\n### ', start + 1);
  const out = start < 0 ? `${md.trimEnd()}\n\n${section}` : `${md.slice(0, start)}${section}${next < 0 ? '' : md.slice(next)}`;
  writeFileSync(results, out);
  process.stdout.write(section);
} finally {
  if (withBuildah) spawnSync('buildah', ['--root', join(bRoot, 'root'), '--runroot', join(bRoot, 'runroot'), '--storage-driver', 'vfs', 'rmi', '--all', '--force']);
  rmSync(dir, { recursive: true, force: true });
}
