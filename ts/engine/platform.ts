// docker's warning when an image built for another platform is run without --platform.
import { hostPlatform } from '../images/host-platform.js';
import type { Store } from '../images/store.js';

/** The warning's text, or undefined when the image's os/architecture are the host's (or unrecorded). */
export function platformMismatch(store: Store, configDigest: string, requested: string | undefined): string | undefined {
  if (requested) return undefined;
  let c: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    c = JSON.parse(store.readBlob(configDigest).toString()) ?? {};
  } catch {
    return undefined; // the run itself reports an unreadable config
  }
  if (!c.os || !c.architecture) return undefined;
  const host = hostPlatform();
  if (`${c.os}/${c.architecture}` === host) return undefined;
  // The image's words reach the user's terminal: anything but a plain name is shown quoted, escapes and all.
  const word = (w: unknown) => (typeof w === 'string' && /^[\w.+-]{1,64}$/.test(w) ? w : JSON.stringify(String(w)));
  const image = `${word(c.os)}/${word(c.architecture)}${c.variant ? `/${word(c.variant)}` : ''}`;
  return `The requested image's platform (${image}) does not match the detected host platform (${host}) and no specific platform was requested`;
}
