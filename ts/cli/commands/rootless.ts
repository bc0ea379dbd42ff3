// tsbox unshare: a command inside the rootless user namespace (as podman unshare), where the store's
// files have the owners the containers see; and _unpack, the layer unpacker that runs there.
import { usernsExec } from '../../runtime/userns-exec.js';
import { isRootless, rootlessMappings } from '../../runtime/rootless.js';
import { UsageError, type Command } from '../common.js';

export const unshareCommand: Command = async (argv) => {
  const cmd = argv[0] === '--' ? argv.slice(1) : argv;
  if (!isRootless()) throw new UsageError('unshare: only for rootless use (you are root already)');
  const m = rootlessMappings();
  if (!m.full) process.stderr.write(`WARNING: ${m.limitation}: only your own id is mapped\n`);
  const args = cmd.length ? cmd : [process.env.SHELL || '/bin/sh'];
  if (!args[0].startsWith('/')) {
    const { execFileSync } = await import('node:child_process');
    args[0] = execFileSync('/bin/sh', ['-c', 'command -v "$0"', args[0]], { encoding: 'utf8' }).trim() || args[0];
  }
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const st = await usernsExec(args, { env, cwd: process.cwd(), stdio: [0, 1, 2] });
  return st.code ?? 128 + (st.signal ?? 0);
};

export const unpackCommand: Command = async (argv) => {
  const [blob, dir, diffId] = argv;
  if (!blob || !dir || !diffId) throw new UsageError('_unpack: want BLOB DIR DIFFID');
  const { unpackInto } = await import('../../images/pull.js');
  await unpackInto(blob, dir, diffId);
  return 0;
};
