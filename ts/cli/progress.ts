// Pull progress as docker shows it: on a terminal one line per layer, rewritten in place, with the
// bytes downloaded ("Downloading [====>   ]  1.2MB/3.4MB"); otherwise plain lines, one per change
// of status (byte counts left out).
import { humanSize } from '../engine/units.js';

export interface Progress {
  status(id: string, status: string, detail?: { current: number; total?: number }): void;
  done(): void;
}

/** docker's JSONProgress.String(): the bar only on terminals wider than 110 columns. */
export function progressText(current: number, total: number | undefined, columns: number): string {
  if (!total || total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = columns > 110 ? `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] ` : '';
  const numbers = current > total ? '' : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  return bar + numbers;
}

/** What a registry's manifest put in a line is shown without its control characters (no terminal escapes). */
const clean = (s: string) => s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');

export function progress(out: NodeJS.WriteStream = process.stdout): Progress {
  if (!out.isTTY) {
    const last = new Map<string, string>();
    return {
      status: (id, st) => {
        if (last.get(id) === st) return;
        last.set(id, st);
        out.write(`${clean(id)}: ${clean(st)}\n`);
      },
      done: () => undefined,
    };
  }
  const order: string[] = [];
  const state = new Map<string, string>();
  let drawn = 0;
  let lastDraw = 0;
  let pending: NodeJS.Timeout | undefined;
  const counted = new Set<string>();
  const draw = () => {
    clearTimeout(pending);
    pending = undefined;
    lastDraw = Date.now();
    // Move up over what we drew last time, then redraw every layer's line.
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const id of order) out.write(`\x1b[2K${clean(id)}: ${clean(state.get(id)!)}\n`);
    drawn = order.length;
  };
  return {
    status(id, st, detail) {
      if (!state.has(id)) order.push(id);
      state.set(id, detail ? `${st} ${progressText(detail.current, detail.total, out.columns ?? 80)}` : st);
      // Byte counts come per chunk: redrawn at most ten times a second (a layer's first at once, so a
      // fast download still shows its size); a new status at once.
      const first = detail !== undefined && !counted.has(id);
      if (first) counted.add(id);
      if (!detail || first || Date.now() - lastDraw >= 100) draw();
      else pending ??= setTimeout(draw, 100);
    },
    done: () => {
      if (pending) draw();
    },
  };
}
