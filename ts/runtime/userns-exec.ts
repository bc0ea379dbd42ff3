// A host program run inside a user namespace with the rootless mapping (podman's "unshare"): how an
// unprivileged user unpacks image layers with their real owners and removes them again. It is tsbox-init
// cloned into a new user namespace only (same filesystem, same everything else) execing the program.
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { native, type ExitStatus } from '../native.js';
import { containerBlob, CLONE } from './container-blob.js';
import { setgroupsDenied, writeIdMaps } from './idmap.js';
import { letGo } from './launch.js';
import { closeQuietly, watchLaunched } from './report.js';
import { rootlessMappings } from './rootless.js';
import { OCI_VERSION, type OciSpec } from './spec.js';

export interface UsernsOptions {
  env?: string[];
  cwd?: string;
  stdio: [number, number, number];
}

/** Runs argv (argv[0] an absolute path) as root of the rootless user namespace; resolves with its exit status. */
export async function usernsExec(argv: string[], o: UsernsOptions): Promise<ExitStatus> {
  const { uidMappings, gidMappings } = rootlessMappings();
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: { args: argv, env: o.env ?? [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`], cwd: o.cwd ?? '/', user: { uid: 0, gid: 0 } },
    linux: { namespaces: [{ type: 'user' }], uidMappings, gidMappings },
  };
  const config = containerBlob(spec, { initMode: 'exec', setgroupsDeny: setgroupsDenied(gidMappings) });
  const spawned = native().spawn({ config, cloneFlags: CLONE.NEWUSER, stdio: o.stdio });
  const pidfd = spawned.pidfd;
  const w = watchLaunched(pidfd, spawned.reportFd, true);
  const exited = w.exit.finally(() => closeQuietly(pidfd));
  try {
    writeIdMaps(spawned.pid, uidMappings, gidMappings);
  } catch (e) {
    closeQuietly(spawned.goFd);
    await exited;
    throw e;
  }
  letGo(spawned);
  const setup = await w.setup;
  const st = await exited;
  if (setup.kind === 'error') throw new Error(setup.message);
  return st;
}

/** usernsExec with stdio on /dev/null and stderr kept for the error: rejects unless it exits 0. */
export async function usernsRun(argv: string[], o: Omit<UsernsOptions, 'stdio'> = {}): Promise<void> {
  const devNull = openSync('/dev/null', 'r+');
  const [errR, errW] = native().pipe();
  const err = new Socket({ fd: errR, readable: true, writable: false });
  let stderr = '';
  err.on('data', (d) => (stderr = (stderr + d).slice(-4096)));
  const errEnd = new Promise((r) => err.on('close', r));
  // The child holds its own copy of the write end: ours goes right after the clone, so the socket ends with the child.
  const st = await usernsExec(argv, { ...o, stdio: [devNull, devNull, errW] }).finally(() => {
    closeSync(devNull);
    closeQuietly(errW);
  });
  await errEnd;
  if (st.code !== 0) throw new Error(`${argv.join(' ')}: ${stderr.trim().split('\n').pop() || (st.signal ? `signal ${st.signal}` : `exit ${st.code}`)}`);
}
