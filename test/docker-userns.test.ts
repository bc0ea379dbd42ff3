// docker with --userns-remap=default: dockerd maps every container's root to a subordinate id of its
// "dockremap" user and hands the runtime a spec with a user namespace and root-owned layers chowned to
// that id. tsbox-runtime runs beside runc under one private dockerd, the same commands with the same
// answers, and the mapping is checked from the host: what the container's root makes on a bind is the
// subordinate id's, what the host's root owns stays out of its reach, run, exec and top agree.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { dockerArchive } from './helpers/archive.js';
import { RUNTIME } from './helpers/bins.js';
import { haveDockerd, startDockerd } from './helpers/dockerd.js';

const hadUser = spawnSync('id', ['-u', 'dockremap']).status === 0;

test.serial('docker --userns-remap=default: tsbox-runtime answers as runc; the container\'s root is the subordinate id on the host', async (t) => {
  if (!haveDockerd()) return t.pass('dockerd is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-userns-remap-'));
  // Searchable by the subordinate root (it opens files below here through the bind).
  chmodSync(dir, 0o755);
  const d = await startDockerd({ args: ['--userns-remap=default', '--add-runtime', `tsbox=${RUNTIME}`] });
  t.teardown(async () => {
    const left = await d.stop();
    if (left.length) console.error('dockerd left behind:', left);
    rmSync(dir, { recursive: true, force: true });
    // dockerd made the user (and its subordinate ids, which userdel takes with it).
    if (!hadUser) spawnSync('userdel', ['dockremap']);
  });
  const sub = Number(readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith('dockremap:'))?.split(':')[1]);
  t.true(sub > 0, 'dockerd gave dockremap subordinate ids');
  const archive = join(dir, 'busybox.tar');
  dockerArchive(busyboxRootfs(), archive, 'busybox:latest');
  t.is(d.docker(['load', '-i', archive]).code, 0);

  const vol = join(dir, 'vol');
  mkdirSync(vol);
  chmodSync(vol, 0o777);
  writeFileSync(join(vol, 'hosts-own'), 'host\n', { mode: 0o644 });

  const transcript = (rt: string): string[] => {
    const out: string[] = [];
    const say = (args: string[]) => {
      const r = d.docker(args);
      out.push(`$ ${args.join(' ')}\n${r.code}\n${r.stdout}${r.stderr}`);
      return r;
    };
    const run = (...args: string[]) => say(['run', '--rm', '--runtime', rt, ...args]);
    run('busybox', 'sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map; grep CapEff /proc/self/status; touch /made && stat -c "%u %g" /made /bin/busybox');
    // The host's file is nobody's inside (unmapped); a file the container makes is its root's.
    run('-v', `${vol}:/v`, 'busybox', 'sh', '-c', `stat -c "%u %g %n" /v/hosts-own; (echo x >> /v/hosts-own) 2>/dev/null || echo refused; echo ${rt} > /v/${rt}; stat -c "%u %g" /v/${rt}`);
    // Device nodes stay out of reach: no mknod in a user namespace, whatever the capabilities say.
    run('busybox', 'sh', '-c', 'mknod /tmp/mem c 1 1 2>/dev/null && echo made || echo refused; echo 1 > /proc/sys/kernel/hostname 2>/dev/null && echo wrote || echo ro');
    run('--userns', 'host', 'busybox', 'cat', '/proc/self/uid_map');
    run('--user', '1000:1000', 'busybox', 'sh', '-c', 'id -u; id -g; touch /tmp/u && stat -c "%u %g" /tmp/u');
    run('-t', 'busybox', 'sh', '-c', 'stat -c "%u %g %a" $(tty)');
    run('--read-only', '--tmpfs', '/t', 'busybox', 'sh', '-c', 'touch /t/a && stat -c "%u %g" /t/a; touch /x 2>/dev/null || echo ro');
    const name = `remap-${rt}`;
    if (d.docker(['run', '-d', '--runtime', rt, '--name', name, 'busybox', 'sleep', '300']).code !== 0) out.push(`run -d ${name} failed`);
    say(['exec', name, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    say(['exec', '-u', '1000', name, 'id', '-u']);
    say(['exec', '-d', name, 'sleep', '301']);
    // Another container in its pid and network namespaces: docker's spec then joins its user namespace by
    // path, and the new namespaces must be that user namespace's.
    say(['run', '--rm', '--runtime', rt, '--pid', `container:${name}`, '--network', `container:${name}`, 'busybox', 'sh', '-c', 'cat /proc/1/comm; ps -o comm | grep -cx sleep; cat /proc/self/uid_map; hostname > /dev/null && touch /tmp/x && echo ok']);
    // Host uids of the container's processes, as docker's top prints them (the sleep, the exec's).
    let uids = '';
    for (let i = 0; i < 50; i++) {
      uids = d.docker(['top', name, '-o', 'pid,uid,args']).stdout;
      if (uids.includes('301')) break;
      spawnSync('sleep', ['0.1']);
    }
    out.push(`top:\n${uids.split('\n').slice(1).filter(Boolean).map((l) => l.trim().split(/\s+/).slice(1).join(' ')).sort().join('\n')}`);
    const pid = d.docker(['inspect', '-f', '{{.State.Pid}}', name]).stdout.trim();
    out.push(`host uid of pid 1: ${readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1]}`);
    say(['rm', '-f', name]);
    return out;
  };
  const ref = transcript('runc');
  const ours = transcript('tsbox');
  const neutral = (rt: string) => (s: string) => s.replace(new RegExp(`(--runtime |remap-|/v/|echo )${rt}\\b`, 'g'), '$1RT');
  t.deepEqual(ours.map(neutral('tsbox')), ref.map(neutral('runc')));

  // And what the reference shows is the mapping asked for.
  const text = ours.join('\n');
  t.regex(text, new RegExp(`^0\\n\\s+0\\s+${sub}\\s+65536\\n\\s+0\\s+${sub}\\s+65536\\nCapEff:\\s+00000000a80425fb\\n0 0\\n0 0\\n`, 'm'));
  t.regex(text, /65534 65534 \/v\/hosts-own\nrefused\n0 0\n/);
  t.regex(text, /^refused\nro\n/m);
  t.regex(text, /^\s+0\s+0\s+4294967295\n/m);
  t.regex(text, new RegExp(`\\nsleep\\n2\\n\\s+0\\s+${sub}\\s+65536\\nok\\n`));
  t.regex(text, new RegExp(`top:\\n${sub} sleep 300\\n${sub} sleep 301\\nhost uid of pid 1: ${sub}`));
  t.is(readFileSync(join(vol, 'hosts-own'), 'utf8'), 'host\n');
  for (const rt of ['runc', 'tsbox']) t.is(statSync(join(vol, rt)).uid, sub, `${rt}'s file on the host`);
  t.false(existsSync(join(vol, 'x')));
});
