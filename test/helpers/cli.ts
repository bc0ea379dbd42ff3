// Running a command with its stdout and stderr in files: a detached container keeps the write end of a
// pipe open, which would keep spawnSync waiting; files end when the command does.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function outputOf(cmd: string, args: string[], o: { tmp: string; input?: string; cwd?: string; timeout?: number }): CliResult {
  const dir = mkdtempSync(join(o.tmp, 'out-'));
  const out = openSync(join(dir, 'o'), 'w');
  const err = openSync(join(dir, 'e'), 'w');
  try {
    const r = spawnSync(cmd, args, { cwd: o.cwd, input: o.input, stdio: [o.input === undefined ? 'ignore' : 'pipe', out, err], timeout: o.timeout ?? 120000 });
    return { code: r.status, stdout: readFileSync(join(dir, 'o'), 'utf8'), stderr: readFileSync(join(dir, 'e'), 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** outputOf without blocking this process: for commands that talk to servers the test itself runs (a token server). */
export async function outputOfAsync(cmd: string, args: string[], o: { tmp: string; input?: string; cwd?: string; timeout?: number }): Promise<CliResult> {
  const dir = mkdtempSync(join(o.tmp, 'out-'));
  const out = openSync(join(dir, 'o'), 'w');
  const err = openSync(join(dir, 'e'), 'w');
  try {
    const p = spawn(cmd, args, { cwd: o.cwd, stdio: [o.input === undefined ? 'ignore' : 'pipe', out, err], timeout: o.timeout ?? 120000 });
    p.stdin?.end(o.input);
    const code = await new Promise<number | null>((resolve, reject) => {
      p.on('error', reject);
      p.on('exit', (c) => resolve(c));
    });
    return { code, stdout: readFileSync(join(dir, 'o'), 'utf8'), stderr: readFileSync(join(dir, 'e'), 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
    rmSync(dir, { recursive: true, force: true });
  }
}
