// A strict TypeScript consumer of the packed tarball gets the process's events typed as child_process's:
// 'exit' and 'close' with (number | null, NodeJS.Signals | null), 'error' with an Error, 'spawn' with
// nothing; the exit results carry signal names; the error classes have their codes. Wrong listeners fail.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installedPackage } from './helpers/package.js';
import { REPO } from './helpers/bins.js';

const consumer = `import { run, spawn, runContainer, Container, ImageNotFoundError, TsboxError, type ProcessExit } from 'tsbox';

async function main(): Promise<void> {
  const c = await run({ image: 'busybox', cmd: ['true'], pull: 'never', onProgress: (p) => p.status.length });
  const name: string = c.name;
  c.on('exit', (code, signal) => {
    const n: number | null = code;
    const s: NodeJS.Signals | null = signal;
    void n, s;
  });
  c.once('close', (code: number | null, signal: NodeJS.Signals | null) => void [code, signal]);
  c.on('spawn', () => undefined);
  c.on('error', (err) => err.message);
  const st: ProcessExit = await c.closed;
  const sig: NodeJS.Signals | null = st.signal;
  const s = await spawn('true', [], { input: 'x', timeout: 5, killSignal: 'SIGKILL' });
  const same: Container = s;
  const killed: boolean = s.kill();
  const r = await runContainer({ spec: { ociVersion: '1.1.0' }, env: { A: '1' }, cwd: '/' });
  try {
    await r.exited;
  } catch (e) {
    if (e instanceof ImageNotFoundError) {
      const code: string = e.code;
      void code;
    }
    if (e instanceof TsboxError) void e.code;
  }
  // @ts-expect-error the exit code is a number or null, not a string
  c.on('exit', (code: string) => code);
  // @ts-expect-error 'spawn' has no arguments
  c.on('spawn', (x: number) => x);
  // @ts-expect-error a signal is a name now
  const num: number | null = st.signal;
  void [name, sig, same, killed, num];
}
void main;
`;

test('a strict TypeScript consumer (nodenext and bundler) gets typed events and results', (t) => {
  const p = installedPackage();
  const dir = mkdtempSync(join(p.project, 'consumer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.ts'), consumer);
  for (const [module, resolution] of [
    ['nodenext', 'nodenext'],
    ['esnext', 'bundler'],
  ]) {
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '--strict', '--noEmit', '--module', module, '--moduleResolution', resolution, '--target', 'es2022', '--types', 'node', '--typeRoots', join(REPO, 'node_modules', '@types'), join(dir, 'main.ts')], { encoding: 'utf8', cwd: dir });
    t.is(r.status, 0, `${module}/${resolution}: ${r.stdout}${r.stderr}`);
  }
});
