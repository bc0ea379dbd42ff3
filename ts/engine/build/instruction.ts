// A Dockerfile's parsed shape (parse.ts makes it): stages of instructions with their flags and lines.

export interface Instruction {
  keyword: string;
  /** 1-based line of the Dockerfile. */
  line: number;
  /** --name=value flags (BuildKit's --mount may repeat). */
  flags: [string, string | undefined][];
  /** The arguments after the flags, continuations joined (heredoc bodies included). */
  args: string;
  /** The instruction as written (history's created_by, the cache key). */
  text: string;
}

export interface Stage {
  index: number;
  name?: string;
  /** FROM's image (variables not yet expanded), `scratch` or an earlier stage's name. */
  base: string;
  platform?: string;
  line: number;
  steps: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM. */
  metaArgs: Instruction[];
  stages: Stage[];
}

export function flag(ins: Instruction, name: string): string | undefined {
  return ins.flags.find(([n]) => n === name)?.[1];
}
