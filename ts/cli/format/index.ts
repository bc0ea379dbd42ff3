// docker's --format for lists (ps, images, stats, network ls, volume ls) and inspect -f: Go templates
// (text/template, ts/cli/format/exec.ts), the `table` prefix (a header row, columns by tabwriter), `json`
// (one JSON object a line, docker 23+), and docker's errors: "template parsing error: ...", exit 1 (64 when
// inspect's template does not parse).
import { Template, TemplateError } from './exec.js';
import { HEADER_FUNCS } from './funcs.js';
import { tabwrite } from './tabwriter.js';

export { Template, TemplateError, tabwrite };

/** A template that failed: docker's words and exit code; the CLI prints the message as it is. */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Writes a FormatError as docker does (bare, on stderr) and returns its code; anything else is rethrown. */
export function formatFailure(e: unknown): number {
  if (!(e instanceof FormatError)) throw e;
  process.stderr.write(`${e.message}\n`);
  return e.exitCode;
}

function parse(src: string, o: ConstructorParameters<typeof Template>[1] = {}, parseCode = 1): Template {
  try {
    return new Template(src, o);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`, parseCode);
    throw e;
  }
}

function run(t: Template, data: unknown): string {
  try {
    return t.execute(data);
  } catch (e) {
    if (e instanceof TemplateError) throw new FormatError(`template parsing error: ${e.message}`, 1);
    throw e;
  }
}

export interface ListFormat<T> {
  /** docker's default for this list, e.g. "table {{.ID}}\t{{.Image}}...". */
  defaultFormat: string;
  /** The header row's values: field name -> column title ("ID" -> "CONTAINER ID"). */
  headers: Record<string, string>;
  /** The row as the template sees it (a class instance: a missing field is an error, as on docker's contexts). */
  context: (item: T) => object;
}

/**
 * Formats a list as docker's CLI does: format is "" (the default), "table", "table TEMPLATE", "json" or a
 * template; `\t` and `\n` written out in it are tabs and newlines.
 */
export function formatList<T>(format: string | undefined, items: T[], f: ListFormat<T>): string {
  let src = format || f.defaultFormat;
  const isTable = src.startsWith('table');
  if (isTable) src = src.slice('table'.length) || f.defaultFormat.slice('table'.length);
  else if (src.trim() === 'json') src = '{{json .}}';
  src = src.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const t = parse(src);
  const rows = items.map((i) => `${run(t, f.context(i))}\n`).join('');
  if (!isTable) return rows;
  // The header: the same template over the column titles, docker's functions passing them through.
  let header = '';
  try {
    header = t.withFuncs(HEADER_FUNCS).execute(new HeaderContext(f.headers));
  } catch {
    // docker ignores a header that does not render
  }
  return tabwrite(`${header}\n${rows}`);
}

/** The header row's data: each field is its title; methods with arguments (Label "k") give theirs. */
class HeaderContext {
  constructor(headers: Record<string, string>) {
    for (const [k, v] of Object.entries(headers)) {
      Object.defineProperty(this, k, { value: k === 'Label' ? (_: string) => v : v, enumerable: true });
    }
  }
}

/** Go struct-shaped maps (every key an exported Go name): a missing field of one is an error in inspect. */
const structLike = (o: object) => {
  const keys = Object.keys(o);
  return keys.length > 0 && keys.every((k) => /^[A-Z][A-Za-z0-9]*$/.test(k));
};

/**
 * inspect -f: the template once per object, each result on its own line. As docker: a missing field of the
 * object is an error, a missing key of a map (Labels, Networks) prints "<no value>"; "json" is the objects
 * as one compact JSON array.
 */
export function formatInspect(format: string, objects: unknown[]): string {
  if (format === 'json') return `${JSON.stringify(objects)}\n`;
  const t = parse(format, { missingKeyError: structLike }, 64);
  const out = objects.map((o) => `${run(t, o)}\n`).join('');
  return out || '\n';
}

/** --filter key=value flags as docker's API filters (key -> values); the engine checks the keys. */
export function parseFilters(values: string[] | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of values ?? []) {
    const i = f.indexOf('=');
    if (i <= 0) throw new FormatError(`invalid argument "${f}" for "-f, --filter" flag: bad format of filter (expected name=value)`, 125);
    (out[f.slice(0, i).trim().toLowerCase()] ??= []).push(f.slice(i + 1));
  }
  return out;
}

/**
 * docker inspect's output: the objects as an indented JSON array, or through -f; exitCode is what the
 * lookups gave (1 when one was missing), a template that fails gives its own.
 */
export function writeInspect(objects: unknown[], format: string | undefined, exitCode: number): number {
  if (format === undefined) {
    process.stdout.write(JSON.stringify(objects, null, 4) + '\n');
    return exitCode;
  }
  try {
    process.stdout.write(formatInspect(format, objects));
  } catch (e) {
    return formatFailure(e);
  }
  return exitCode;
}
