// `tsbox sandbox`: the host's filesystem under a private writable layer, cwd writable, no network.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI } from './helpers/bins.js';


function sandbox(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, 'sandbox', ...args], { cwd, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('writes outside cwd stay private, cwd is writable, /tmp is fresh, no network, own pid namespace', (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'tsbox-sbx-cwd-'));
  const hostTmpFile = join(tmpdir(), `tsbox-sbx-marker-${process.pid}`);
  const hostEtc = `/etc/tsbox-sandbox-test-${process.pid}`;
  writeFileSync(hostTmpFile, 'x');
  t.teardown(() => {
    rmSync(cwd, { recursive: true, force: true });
    rmSync(hostTmpFile, { force: true });
  });
  const r = sandbox(
    ['--', 'sh', '-c', `echo private > ${hostEtc} && cat ${hostEtc}; echo mine > out.txt; ls /tmp | wc -l; cat /proc/1/comm; echo $$; hostname; ip -o link | wc -l; ip -o link | grep -c UP || true; ip route | wc -l`],
    cwd,
  );
  t.is(r.code, 0, r.stderr);
  const [etc, tmpCount, pid1, self, host, links, up, routes] = r.stdout.trim().split('\n');
  t.is(etc, 'private');
  t.false(existsSync(hostEtc), 'the write to /etc must not reach the host');
  t.is(readFileSync(join(cwd, 'out.txt'), 'utf8'), 'mine\n');
  // Only the mount point of cwd (which lives under /tmp here): the host's /tmp is not visible.
  t.is(tmpCount.trim(), '1');
  t.is(pid1, 'tsbox-init');
  t.is(self, '2');
  t.is(host, 'sandbox');
  t.is(links.trim(), '1', 'only lo');
  t.is(up.trim(), '1', 'lo is up');
  t.is(routes.trim(), '0', 'no route');
});

test('exit code and a missing command', (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'tsbox-sbx-cwd-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  t.is(sandbox(['--', 'sh', '-c', 'exit 9'], cwd).code, 9);
  const r = sandbox(['--', 'no-such-command-x'], cwd);
  t.not(r.code, 0);
  t.regex(r.stderr, /no-such-command-x.*ENOENT/);
  // No layer of a sandbox that is over: its owner's pid (in the name) gone. Other test files run
  // sandboxes meanwhile, whose layers are there while their owners run.
  const ownerGone = (n: string) => {
    const pid = /^tsbox-sandbox-api\.(\d+)-/.exec(n)?.[1];
    return !pid || !existsSync(`/proc/${pid}`);
  };
  t.deepEqual(readdirSync('/dev/shm').filter((n) => n.startsWith('tsbox-sandbox-') && ownerGone(n)), []);
});

test('bad usage is a clear error: 125 for a bad flag value, 1 for a missing command (docker\'s codes)', (t) => {
  const r = sandbox(['--network', 'bogus', '--', 'true'], tmpdir());
  t.is(r.code, 125);
  t.regex(r.stderr, /--network bogus/);
  // As docker's "requires at least 1 argument".
  const none = sandbox([], tmpdir());
  t.is(none.code, 1);
  t.regex(none.stderr, /"tsbox sandbox" requires at least 1 argument/);
});

test('sandboxes started side by side all run: none takes another one\'s fresh layer for a leftover', async (t) => {
  const { execFile } = await import('node:child_process');
  const one = () =>
    new Promise<string>((resolve) => {
      const p = execFile(process.execPath, [CLI, 'sandbox', '--', 'true'], { cwd: tmpdir() }, (_e, _out, err) => resolve(`${p.exitCode ?? -1} ${err}`.trim()));
    });
  // Before: a starting sandbox removed the layers of others whose state was not made yet (24 of 36 failed).
  const results = (await Promise.all(Array.from({ length: 12 }, one))).concat(await Promise.all(Array.from({ length: 12 }, one)));
  t.deepEqual(results, Array(24).fill('0'));
});
