// A Dockerfile as stages of instructions. dockerfile-ast does the lexing (line continuations, the escape
// directive, comments, heredoc bodies); this checks what the builder needs and names the line of an error.
import { DockerfileParser } from 'dockerfile-ast';
import { DockerfileError } from './errors.js';
import { flag, type Dockerfile, type Instruction } from './instruction.js';

export { DockerfileError };
export type { Dockerfile, Instruction, Stage } from './instruction.js';

const KNOWN = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

/** An instruction line of its own (ONBUILD triggers are parsed through this too). */
export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const df = DockerfileParser.parse(text);
  const out: Dockerfile = { metaArgs: [], stages: [] };
  const lines = text.split('\n');
  for (const i of df.getInstructions()) {
    const keyword = i.getKeyword().toUpperCase();
    const line = i.getRange().start.line + 1;
    const fail = (msg: string): never => {
      throw new DockerfileError(`${file}:${line}: ${msg}`);
    };
    if (!KNOWN.has(keyword)) fail(`unknown instruction: ${i.getKeyword()}`);
    const flags = ((i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags?.() ?? []).map((f) => [f.getName(), f.getValue() ?? undefined] as [string, string | undefined]);
    const args = i.getArgumentsContent() ?? '';
    const r = i.getRange();
    const raw = lines.slice(r.start.line, r.end.line + 1).join('\n');
    const ins: Instruction = { keyword, line, flags, args, text: raw.replace(/\\\n\s*/g, ' ').trim() };
    if (keyword !== 'ONBUILD' && !args.trim() && !['RUN', 'CMD', 'ENTRYPOINT'].includes(keyword)) fail(`${keyword} requires at least one argument`);
    if (keyword === 'FROM') {
      const words = args.trim().split(/\s+/);
      if (words.length !== 1 && !(words.length === 3 && words[1].toUpperCase() === 'AS')) fail(`FROM requires either one or three arguments (FROM image [AS name]), got ${JSON.stringify(args.trim())}`);
      const name = words[2]?.toLowerCase();
      if (name && !/^[a-z][a-z0-9._-]*$/.test(name)) fail(`invalid stage name ${JSON.stringify(words[2])}`);
      if (name && out.stages.some((s) => s.name === name)) fail(`duplicate stage name ${JSON.stringify(name)}`);
      out.stages.push({ index: out.stages.length, name, base: words[0], platform: flag(ins, 'platform'), line, steps: [] });
      continue;
    }
    if (!out.stages.length) {
      if (keyword !== 'ARG') fail(`${keyword} before the first FROM (only ARG may come first)`);
      out.metaArgs.push(ins);
      continue;
    }
    out.stages[out.stages.length - 1].steps.push(ins);
  }
  if (!out.stages.length) throw new DockerfileError(`${file}: no FROM instruction (the file is empty or has no stage)`);
  return out;
}
