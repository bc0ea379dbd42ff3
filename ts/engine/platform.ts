// docker's warning when an image built for another platform is run without --platform.
import { hostPlatform } from '../images/pull.js';
import type { Store } from '../images/store.js';

/** The warning's text, or undefined when the image's os/architecture are the host's (or unrecorded). */
export function platformMismatch(store: Store, configDigest: string, requested: string | undefined): string | undefined {
  if (requested) return undefined;
  const c = JSON.parse(store.readBlob(configDigest).toString()) as { os?: string; architecture?: string; variant?: string };
  if (!c.os || !c.architecture) return undefined;
  const image = `${c.os}/${c.architecture}${c.variant ? `/${c.variant}` : ''}`;
  const host = hostPlatform();
  if (`${c.os}/${c.architecture}` === host) return undefined;
  return `The requested image's platform (${image}) does not match the detected host platform (${host}) and no specific platform was requested`;
}
