// docker's detach keys (--detach-keys, default ctrl-p,ctrl-q): the sequence on an attached stdin that
// detaches the client and leaves the container running.

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** "ctrl-p,ctrl-q", "a,ctrl-@": the bytes, as docker reads them (ctrl-@ .. ctrl-_ and ctrl-a .. ctrl-z, or one character). */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === '') return Buffer.alloc(0);
  return Buffer.from(
    spec.split(',').map((k) => {
      if (k.length === 1) return k.charCodeAt(0);
      const m = /^ctrl-(.)$/.exec(k);
      if (m) {
        const c = m[1].toLowerCase();
        if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
        const i = '@[\\]^_'.indexOf(c);
        if (i >= 0) return i === 0 ? 0 : 27 + i - 1;
      }
      throw new RangeError(`invalid detach keys (${spec}): ${JSON.stringify(k)} is not a key docker knows (a character, or ctrl-a .. ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_)`);
    }),
  );
}

/** Feeds input through; tells when the sequence is complete. What matched so far is held back, as docker does. */
export class DetachMatcher {
  private held = 0;
  constructor(private readonly keys: Buffer) {}

  /** The bytes to pass on, and whether the sequence completed (what follows it is dropped). */
  feed(data: Buffer): { pass: Buffer; detach: boolean } {
    if (!this.keys.length) return { pass: data, detach: false };
    const out: number[] = [];
    for (const b of data) {
      if (b === this.keys[this.held]) {
        if (++this.held === this.keys.length) return { pass: Buffer.from(out), detach: true };
        continue;
      }
      // A partial match that breaks: the held keys were input after all.
      for (let i = 0; i < this.held; i++) out.push(this.keys[i]);
      this.held = b === this.keys[0] ? 1 : 0;
      if (!this.held) out.push(b);
    }
    return { pass: Buffer.from(out), detach: false };
  }
}
