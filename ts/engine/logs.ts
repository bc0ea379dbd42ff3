// Reading the json-file logs tsbox-init writes for detached containers.
export interface LogLine {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a line cut by a crash mid-write: skipped
    }
  }
  return out;
}

/** docker's --since: an RFC 3339 time, a Unix timestamp, or a duration ago ("10m", "1h30m", "45s"). */
export function parseSince(s: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const d = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (d && (d[1] || d[2] || d[3])) return now - ((Number(d[1] ?? 0) * 60 + Number(d[2] ?? 0)) * 60 + Number(d[3] ?? 0)) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`invalid --since ${JSON.stringify(s)}: want a time, a timestamp or a duration like 10m`);
  return t;
}
