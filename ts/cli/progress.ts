// Pull progress as docker shows it: on a terminal one line per layer, rewritten in place; otherwise
// plain lines, one per change.
export interface Progress {
  status(id: string, status: string): void;
  done(): void;
}

export function progress(out: NodeJS.WriteStream = process.stdout): Progress {
  if (!out.isTTY) return { status: (id, st) => out.write(`${id}: ${st}\n`), done: () => undefined };
  const order: string[] = [];
  const state = new Map<string, string>();
  let drawn = 0;
  const draw = () => {
    // Move up over what we drew last time, then redraw every layer's line.
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const id of order) out.write(`\x1b[2K${id}: ${state.get(id)}\n`);
    drawn = order.length;
  };
  return {
    status(id, st) {
      if (!state.has(id)) order.push(id);
      state.set(id, st);
      draw();
    },
    done: () => undefined,
  };
}
