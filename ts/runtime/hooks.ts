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

/** Runs each hook in order; a failing or timed-out hook throws (the caller decides whether that is fatal). */
export function runHooks(kind: string, hooks: OciHook[] | undefined, state: HookState): void {
  for (const h of hooks ?? []) {
    const r = childProcess().spawnSync(h.path, (h.args ?? [h.path]).slice(1), {
      argv0: h.args?.[0] ?? h.path,
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      input: JSON.stringify(state),
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      stdio: ['pipe', 'inherit', 'pipe'],
    });
    if (r.error) throw new Error(`${kind} hook ${h.path}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
    if (r.status !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      throw new Error(`${kind} hook ${h.path}: ${why}: ${r.stderr.toString().trim().split('\n').pop() ?? ''}`);
    }
  }
}
