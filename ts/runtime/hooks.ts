// OCI hooks: host programs run at lifecycle points with the container state on stdin.
import { childProcess } from './lazy.js';
import type { OciHook } from './spec.js';

export interface HookState {
  ociVersion: string;
  id: string;
  status: string;
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

let hookStdout: () => number | 'inherit' = () => 'inherit';

/**
 * Where hooks write their stdout: this process's own by default; the runtime CLI names its call's (a
 * process serving many calls has /dev/null for its own).
 */
export function useHookStdout(fd: () => number | 'inherit'): void {
  hookStdout = fd;
}

/** Runs each hook in order; a failing or timed-out hook throws (the caller decides whether that is fatal). */
export function runHooks(kind: string, hooks: OciHook[] | undefined, state: HookState): void {
  for (const h of hooks ?? []) {
    const r = childProcess().spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      input: JSON.stringify(state),
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      stdio: ['pipe', hookStdout(), 'pipe'],
    });
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    // A hook that exits without reading the state (EPIPE on its stdin) ran all the same, as runc has it.
    if (r.error && !(code === 'EPIPE' && r.status !== null)) throw new Error(`${kind} hook ${h.path}: ${code ?? r.error.message}`);
    if (r.status !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      throw new Error(`${kind} hook ${h.path}: ${why}: ${r.stderr.toString().trim().split('\n').pop() ?? ''}`);
    }
  }
}
