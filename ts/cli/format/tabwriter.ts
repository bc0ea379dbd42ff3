// Go's text/tabwriter as docker's CLI sets it up (minwidth 10, tabwidth 1, padding 3, spaces): cells end
// at tabs, a column is as wide as its widest cell plus the padding, within each run of lines that have it;
// the last cell of a line is not a column.

export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split('\n');
  const trailing = lines[lines.length - 1] === '' ? lines.pop() : undefined;
  const cells = lines.map((l) => l.split('\t'));
  const width = (s: string) => [...s].length;
  const widths: number[][] = cells.map(() => []);
  const columns = Math.max(0, ...cells.map((c) => c.length - 1));
  for (let col = 0; col < columns; col++) {
    let i = 0;
    while (i < cells.length) {
      if (cells[i].length - 1 <= col) {
        i++;
        continue;
      }
      // A block: consecutive lines whose cell `col` is tab-terminated.
      let j = i;
      let w = 0;
      while (j < cells.length && cells[j].length - 1 > col) w = Math.max(w, width(cells[j++][col]));
      w = Math.max(w + padding, minwidth);
      for (let k = i; k < j; k++) widths[k][col] = w;
      i = j;
    }
  }
  const out = cells.map((c, i) => c.map((cell, col) => (col < c.length - 1 ? cell + ' '.repeat(widths[i][col] - width(cell)) : cell)).join(''));
  return out.join('\n') + (trailing !== undefined ? '\n' : '');
}
