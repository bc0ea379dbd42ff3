// npm run bench:goals: issue #19's goals checked on several runs of bench/run.ts in a row (default 5),
// each goal a ratio within one run; writes bench/GOALS.md (and RESULTS.md is the last run's).
// Usage: node --import=tsx bench/goals.ts [--runs N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string' }, rounds: { type: 'string' } } });
const RUNS = Number(values.runs ?? 5);

interface Row {
  section: string;
  name: string;
  median: number;
}

/** A goal: a ratio from one run's rows, and whether it holds. */
interface Goal {
  what: string;
  ratio: (rows: Row[]) => number | undefined;
  holds: (r: number) => boolean;
  shown: string;
}

const pick = (rows: Row[], section: string, name: string) => rows.find((r) => r.section.startsWith(section) && r.name === name)?.median;
/** a/b of two rows' medians in one section, or undefined when either is missing (not measured here). */
const over = (section: string, a: string, b: string) => (rows: Row[]) => {
  const x = pick(rows, section, a);
  const y = pick(rows, section, b);
  return x !== undefined && y !== undefined ? x / y : undefined;
};
/** The same across every section starting with `section` (both pull images), the worst one. */
const worst = (section: string, a: string, b: string, max: boolean) => (rows: Row[]) => {
  const rs = [...new Set(rows.filter((r) => r.section.startsWith(section)).map((r) => r.section))].map((s) => over(s, a, b)(rows)).filter((r): r is number => r !== undefined);
  return rs.length ? (max ? Math.max(...rs) : Math.min(...rs)) : undefined;
};

const GOALS: Goal[] = [
  { what: '`tsbox-runtime run` at most runc\'s time', ratio: over('(b) ', 'tsbox-runtime run', 'runc run'), holds: (r) => r <= 1, shown: '≤ 1.00×' },
  { what: '`create`+`start`+`delete` at most runc\'s', ratio: over('(b) ', 'tsbox-runtime create+start+delete', 'runc create+start+delete'), holds: (r) => r <= 1, shown: '≤ 1.00×' },
  { what: '20 `tsbox-runtime run` at once: at least runc\'s containers/s', ratio: over('(b2)', 'tsbox-runtime run ×20', 'runc run ×20'), holds: (r) => r >= 1, shown: '≥ 1.00×' },
  { what: '`tsbox run --rm --network none IMAGE true` at most 0.6× podman\'s', ratio: over('(c)', 'tsbox run --rm', 'podman run --rm'), holds: (r) => r <= 0.6, shown: '≤ 0.60×' },
  // Throughput is the inverse of time: skopeo+umoci's time over tsbox's, the worse of the two images.
  { what: 'pull + unpack at least 1.2× the throughput of skopeo copy + umoci unpack (both images)', ratio: worst('(f)', 'skopeo copy + umoci unpack', 'tsbox pull', false), holds: (r) => r >= 1.2, shown: '≥ 1.20×' },
  { what: 'pull + unpack faster than `podman pull` (both images)', ratio: worst('(f)', 'podman pull (overlay)', 'tsbox pull', false), holds: (r) => r > 1, shown: '> 1.00× (podman\'s time over tsbox\'s)' },
  { what: 'in-process start+teardown at most 1.2× unshare + pivot_root', ratio: over('(a)', 'tsbox API (in-process)', "unshare + pivot_root (the kernel's floor)"), holds: (r) => r <= 1.2, shown: '≤ 1.20×' },
  { what: 'in-process start+teardown at most 0.2× node spawning crun', ratio: over('(a)', 'tsbox API (in-process)', 'node spawning crun run'), holds: (r) => r <= 0.2, shown: '≤ 0.20×' },
  { what: 'concurrent throughput at least 3× crun\'s with 20 at once', ratio: over('(d)', 'tsbox API ×20', 'crun ×20'), holds: (r) => r >= 3, shown: '≥ 3.00×' },
  { what: 'concurrent throughput at least 3× crun\'s with 100 at once', ratio: over('(d)', 'tsbox API ×100', 'crun ×100'), holds: (r) => r >= 3, shown: '≥ 3.00×' },
  { what: 'tsbox-init under 1 MiB RSS (KiB)', ratio: (rows) => pick(rows, '(g)', 'tsbox-init RSS (--init)'), holds: (r) => r < 1024, shown: '< 1024' },
];

const dir = mkdtempSync(join(tmpdir(), 'tsbox-goals-'));
const runs: Row[][] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const out = join(dir, `run${i}.json`);
    const args = ['--import=tsx', join(import.meta.dirname, 'run.ts'), '--json', out, ...(values.rounds ? ['--rounds', values.rounds] : [])];
    process.stderr.write(`bench:goals: run ${i + 1} of ${RUNS}\n`);
    const p = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (p.status !== 0) throw new Error(`bench/run.ts: exit ${p.status}`);
    runs.push((JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[] }).rows);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const cell = (r: number | undefined) => (r === undefined ? 'n/a' : r.toFixed(2));
const lines = [
  '# tsbox: issue #19\'s goals on runs of `npm run bench` in a row',
  '',
  `${new Date().toISOString()}: ${RUNS} runs${values.rounds ? ` of ${values.rounds} rounds` : ''}; each cell a ratio within one run (bench/RESULTS.md is the last run's).`,
  '',
  `| goal | target | ${runs.map((_, i) => `run ${i + 1}`).join(' | ')} | holds on every run |`,
  `|---|---|${runs.map(() => '---:').join('|')}|---|`,
];
for (const g of GOALS) {
  const rs = runs.map((rows) => g.ratio(rows));
  const all = rs.every((r) => r !== undefined && g.holds(r));
  lines.push(`| ${g.what} | ${g.shown} | ${rs.map(cell).join(' | ')} | ${all ? 'yes' : 'no'} |`);
}
const md = lines.join('\n') + '\n';
writeFileSync(join(import.meta.dirname, 'GOALS.md'), md);
process.stdout.write(md);
