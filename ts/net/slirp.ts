// User-mode networking for rootless containers: slirp4netns gives the container's network namespace a
// tap device NATed through the user's own sockets; published ports are its host forwards.
import { accessSync, constants } from 'node:fs';

export function slirpBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/bin'])) {
    try {
      accessSync(`${dir}/slirp4netns`, constants.X_OK);
      return `${dir}/slirp4netns`;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function slirpAvailable(): boolean {
  return slirpBinary() !== undefined;
}
