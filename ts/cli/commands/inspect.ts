// docker inspect: containers, images, networks and volumes by name or id, tried in docker's order; and
// the typed forms (container inspect, image inspect) that look at one kind. What was found is printed
// (`[]` for nothing), each name not found gets docker's error line, and the exit code is then 1.
import { Engine } from '../../engine/engine.js';
import { args, type Command, type GlobalOptions } from '../common.js';
import { writeInspect } from '../format/index.js';

type Kind = 'container' | 'image' | 'network' | 'volume';
const KINDS: Kind[] = ['container', 'image', 'network', 'volume'];

const notFound = (e: unknown) => /^ERR_NO_SUCH_/.test((e as { code?: string }).code ?? '');

function lookUp(engine: Engine, kind: Kind, ref: string): unknown {
  switch (kind) {
    case 'container':
      return engine.containers.inspect(ref);
    case 'image':
      return engine.images.inspect(ref);
    case 'network':
      return engine.networks.inspect(ref);
    case 'volume':
      return engine.volumes.inspect(ref);
  }
}

/** inspect of one kind (`container inspect`), or of any (`inspect`, unless --type says which). */
export function inspectObjects(kind: Kind | undefined): Command {
  return async (argv: string[], g: GlobalOptions) => {
    const a = args(argv, { format: { type: 'string', short: 'f' }, size: { type: 'boolean', short: 's' }, ...(kind ? {} : { type: { type: 'string' } }) });
    const type = (a.values as { type?: string }).type;
    if (type !== undefined && !(KINDS as string[]).includes(type)) {
      // docker's CLI: the line bare, exit 1 (not a usage error's 125).
      process.stderr.write(`"${type}" is not a valid value for --type\n`);
      return 1;
    }
    const kinds = kind ? [kind] : type ? [type as Kind] : KINDS;
    const engine = new Engine({ root: g.root });
    let code = 0;
    const out = a.positionals.flatMap((ref) => {
      for (const k of kinds) {
        try {
          return [lookUp(engine, k, ref)];
        } catch (e) {
          if (!notFound(e)) throw e;
        }
      }
      process.stderr.write(`Error: No such ${kinds.length > 1 ? 'object' : kinds[0]}: ${ref}\n`);
      code = 1;
      return [];
    });
    return writeInspect(out, a.values.format, code);
  };
}
