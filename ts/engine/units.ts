// docker's go-units: HumanDuration ("About a minute", "2 hours") and HumanSize ("1.24MB", decimal units),
// the words of docker ps's STATUS and CREATED and of its sizes.

/** go-units' HumanDuration of ms milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's %.Ng: N significant digits, trailing zeros dropped, an exponent ("1e+03") when it needs one. */
function goG(x: number, prec: number): string {
  if (x === 0) return '0';
  const p = prec === 0 ? 1 : prec;
  const [m, e] = x.toExponential(p - 1).split('e');
  const exp = Number(e);
  const trim = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= p) return `${trim(m)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return trim(x.toFixed(Math.max(0, p - 1 - exp)));
}

function customSize(size: number, precision: number, base: number, units: string[]): string {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return `${goG(size, precision)}${units[i]}`;
}

/** go-units' HumanSizeWithPrecision: decimal units ("1.24MB" at precision 3). */
export function humanSizeWithPrecision(bytes: number, precision: number): string {
  return customSize(bytes, precision, 1000, DECIMAL);
}

/** go-units' HumanSize (precision 4): "2.746MB". */
export function humanSize(bytes: number): string {
  return humanSizeWithPrecision(bytes, 4);
}

/** go-units' BytesSize: binary units ("1.5GiB"), as docker stats' MEM USAGE prints them. */
export function bytesSize(bytes: number): string {
  return customSize(bytes, 4, 1024, BINARY);
}
