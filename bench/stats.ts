// Timing helpers for the benchmarks: alternating A/B runs, medians with min/max, ratios.
export interface Sample {
  name: string;
  ms: number[];
}

export interface Summary {
  name: string;
  runs: number;
  median: number;
  min: number;
  max: number;
}

export function summarize(s: Sample): Summary {
  const sorted = [...s.ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { name: s.name, runs: sorted.length, median, min: sorted[0], max: sorted[sorted.length - 1] };
}

/** A timed run, and optionally untimed cleanup after each (say, removing what the run wrote). */
export type Case = { name: string; run: () => Promise<void> | void; after?: () => void };

/**
 * Runs the cases in alternation (A B C A B C ...) after warm-up rounds, so drift in the machine
 * hits every case alike.
 */
export async function alternate(cases: Case[], rounds: number, warmup = 3): Promise<Summary[]> {
  const samples = cases.map((c) => ({ name: c.name, ms: [] as number[] }));
  for (let r = 0; r < warmup + rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const t0 = process.hrtime.bigint();
      await cases[i].run();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r >= warmup) samples[i].ms.push(ms);
      cases[i].after?.();
    }
  }
  return samples.map(summarize);
}

export function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** Every row a table() printed, for `--json` (bench/goals.ts reads the goals' ratios from it). */
export const recorded: { section: string; name: string; unit: string; median: number; min: number; max: number; runs: number }[] = [];

/** A markdown table with each case's ratio to the reference (the first row unless named). */
export function table(title: string, rows: Summary[], unit = 'ms', reference = rows[0]?.name): string {
  const ref = rows.find((r) => r.name === reference);
  for (const r of rows) recorded.push({ section: title, unit, ...r });
  const lines = [`### ${title}`, '', `| case | median ${unit} | min | max | runs | vs ${reference} |`, '|---|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const ratio = ref ? (r.median / ref.median).toFixed(2) + '×' : '';
    lines.push(`| ${r.name} | ${fmt(r.median)} | ${fmt(r.min)} | ${fmt(r.max)} | ${r.runs} | ${ratio} |`);
  }
  return lines.join('\n') + '\n';
}
