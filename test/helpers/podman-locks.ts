// Loaded into every test worker (ava's nodeArguments): podman's default shm lock (/dev/shm/libpod_lock)
// is one table for every podman on the host, whatever its --root, so references in test files running
// side by side freed and took each other's locks. File locks live in each instance's own --tmpdir.
import { fileURLToPath } from 'node:url';

process.env.CONTAINERS_CONF ??= fileURLToPath(new URL('../fixtures/podman-containers.conf', import.meta.url));
