// tsbox build and commit: Dockerfiles built by tsbox, run in tsbox, and compared file by file with the
// same Dockerfile built by buildah (Debian's) from the same base image; the cache, SOURCE_DATE_EPOCH,
// commit, and what a hostile base image or Dockerfile must not reach.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxRootfs } from './helpers/bundle.js';
import { dockerArchive } from './helpers/archive.js';
import { engineRoot, type EngineRoot } from './helpers/engine-root.js';
import { removeCgroupTree, unmountBelow } from './helpers/leftovers.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

let e: EngineRoot;
let archive: string;
let work: string;

test.before(() => {
  e = engineRoot('tsbox-build-');
  work = mkdtempSync(join(tmpdir(), 'tsbox-build-work-'));
  archive = join(work, 'busybox.tar');
  // One base image for both builders: the docker-archive tsbox loads and buildah reads.
  dockerArchive(busyboxRootfs(), archive, 'busybox:latest');
  const r = e.tsbox(['load', '-i', archive]);
  if (r.code !== 0) throw new Error(r.stderr);
});

test.after.always(() => {
  e?.remove();
  if (work) {
    unmountBelow(work);
    rmSync(work, { recursive: true, force: true });
  }
});

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(work, 'ctx-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

// Every path but the kernel's filesystems: owner, group, mode, type, link count (files), link target,
// content hash. Directory link counts depend on how layers split, not on the tree: left out; so is the
// content of the files each container gets from its engine (hostname, hosts, resolv.conf).
const TREE = `find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -print | sort | while read f; do
  if [ -d "$f" ] && [ ! -L "$f" ]; then stat -c '%n %u %g %a %F' "$f"; else stat -c '%n %u %g %a %F %h' "$f"; fi
  case "$f" in /etc/hostname|/etc/hosts|/etc/resolv.conf) continue;; esac
  if [ -L "$f" ]; then readlink "$f"; elif [ -f "$f" ]; then md5sum < "$f"; fi
done`;

function tree(image: string): string {
  const r = e.tsbox(['run', '--rm', '-u', '0', '--entrypoint', 'sh', image, '-c', TREE]);
  if (r.code !== 0) throw new Error(`tree of ${image}: ${r.stderr}`);
  return r.stdout;
}

const MULTI = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS builder
ARG WHO=world
ENV GREETING="hello $WHO" DIR=/opt/app
RUN mkdir -p $DIR/bin && echo "$GREETING" > $DIR/greeting && echo unused > /unused

FROM $BASE
ENV DIR=/opt/app
COPY --from=builder \${DIR} /opt/app
RUN rm -rf /etc/group /root && mkdir -p /srv/d/sub && echo in > /srv/d/sub/f && echo old > /srv/keep
RUN rm -rf /srv/d && echo file > /srv/d && echo new > /srv/keep
RUN echo h > /srv/h1 && ln /srv/h1 /srv/h2 && cp /bin/busybox /srv/suid && chmod 4755 /srv/suid && chown 65534:65534 /srv/h1
WORKDIR /work
COPY *.txt ./
COPY --chown=65534:65534 dir/ /work/dir/
COPY --chmod=600 a.txt /work/private.txt
USER nobody
RUN <<EOF
id -u > /tmp/who
echo "$DIR" >> /tmp/who
EOF
WORKDIR /home/nobody/sub
USER root
RUN ln -s /opt/app/greeting /work/link
CMD ["cat", "/opt/app/greeting", "/srv/d", "/srv/keep", "/tmp/who"]
`;

const MULTI_CTX = {
  Dockerfile: MULTI,
  'a.txt': 'a\n',
  'b.txt': 'b\n',
  'debug.log': 'ignored\n',
  'dir/one': '1\n',
  'dir/sub/two': '2\n',
  'dir/skip.log': 'ignored\n',
  'dir/keep.log': 'kept\n',
  '.dockerignore': '*.log\ndir/*.log\n!dir/keep.log\n',
};

test.serial('a multi-stage build runs in tsbox with the expected results, and buildah builds the same tree', (t) => {
  const ctx = context(MULTI_CTX);
  const r = e.tsbox(['build', '--build-arg', 'WHO=tsbox', '-t', 'multi:1', ctx]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /naming to multi:1 done/);
  const run = e.tsbox(['run', '--rm', 'multi:1']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'hello tsbox\nfile\nnew\n65534\n/opt/app\n');
  // Deleted lower files stay deleted; the setuid bit, owners, hardlinks and .dockerignore hold.
  const check = e.tsbox(['run', '--rm', 'multi:1', 'sh', '-c', 'ls /etc/group /root 2>&1; stat -c "%a %u %h" /srv/suid /srv/h1 /srv/h2; ls /work /work/dir; cat /work/dir/keep.log; stat -c "%a" /work/private.txt; ls /unused 2>&1; readlink /work/link']);
  t.is(check.code, 0, check.stderr);
  t.regex(check.stdout, /\/etc\/group: No such file or directory/);
  t.regex(check.stdout, /\/root: No such file or directory/);
  t.regex(check.stdout, /^4755 0 1$/m);
  t.regex(check.stdout, /^644 65534 2\n644 65534 2$/m);
  t.notRegex(check.stdout, /debug\.log|skip\.log/);
  t.regex(check.stdout, /kept/);
  t.regex(check.stdout, /^600$/m);
  t.regex(check.stdout, /\/unused: No such file or directory/);
  const hist = JSON.parse(e.tsbox(['image', 'inspect', 'multi:1']).stdout)[0];
  t.is(hist.Config.WorkingDir, '/home/nobody/sub');
  t.deepEqual(hist.Config.Cmd, ['cat', '/opt/app/greeting', '/srv/d', '/srv/keep', '/tmp/who']);
  t.true(hist.Config.Env.includes('DIR=/opt/app'));

  if (!have('buildah')) {
    t.log('buildah is not installed (apt-get install buildah): the reference comparison is skipped');
    return;
  }
  const bdir = mkdtempSync(join(work, 'buildah-'));
  const buildah = (args: string[]) => spawnSync('buildah', ['--root', join(bdir, 'root'), '--runroot', join(bdir, 'runroot'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', timeout: 300000 });
  try {
    // chroot isolation (the host's network, no namespace): buildah makes no CNI bridge, nothing stays on the host.
    // Debian's buildah (imagebuilder) has no heredocs: its Dockerfile spells that step as one RUN line.
    const plain = MULTI.replace(/RUN <<EOF\n([\s\S]*?)\nEOF\n/, (_, body: string) => `RUN ${body.split('\n').join(' && ')}\n`);
    t.notRegex(plain, /<<EOF/);
    writeFileSync(join(bdir, 'Dockerfile'), plain);
    let b = buildah(['bud', '--isolation', 'chroot', '-f', join(bdir, 'Dockerfile'), '--build-arg', `BASE=docker-archive:${archive}`, '--build-arg', 'WHO=tsbox', '-t', 'ref', ctx]);
    t.is(b.status, 0, b.stderr);
    const out = join(bdir, 'ref.tar');
    b = buildah(['push', 'ref', `docker-archive:${out}:localhost/ref:latest`]);
    t.is(b.status, 0, b.stderr);
    const l = e.tsbox(['load', '-i', out]);
    t.is(l.code, 0, l.stderr);
    const mine = tree('multi:1');
    // buildah leaves the /run its RUN steps mount on in the image (docker's builder does not).
    const theirs = tree('localhost/ref:latest').replace(/^\/run 0 0 755 directory\n/m, '');
    t.true(mine.split('\n').length > 400);
    t.is(mine, theirs);
  } finally {
    buildah(['rmi', '--all', '--force']);
    unmountBelow(bdir);
    rmSync(bdir, { recursive: true, force: true });
  }
});

test.serial('a rebuild of an unchanged context runs no RUN step; a changed file reruns from its COPY on', (t) => {
  const ctx = context({
    Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/cache echo run >> /cache/runs; cat /cache/runs | wc -l > /first\nCOPY a.txt /\nRUN --mount=type=cache,target=/cache echo run >> /cache/runs; cat /cache/runs | wc -l > /second\n',
    'a.txt': 'one\n',
  });
  let r = e.tsbox(['build', '-t', 'cached:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const first = e.tsbox(['run', '--rm', 'cached:1', 'cat', '/first', '/second']);
  t.is(first.stdout.replace(/ /g, ''), '1\n2\n');
  const started = Date.now();
  r = e.tsbox(['build', '-t', 'cached:1', ctx]);
  const took = Date.now() - started;
  t.is(r.code, 0, r.stderr);
  t.is((r.stderr.match(/CACHED/g) ?? []).length, 3);
  t.log(`cached rebuild: ${took} ms`);
  // The cache mount is the witness: a RUN that ran would have added a line.
  const cacheDir = join(e.root, 'build-cache');
  const runs = readdirSync(cacheDir).map((d) => readFileSync(join(cacheDir, d, 'runs'), 'utf8'));
  t.deepEqual(runs, ['run\nrun\n']);
  writeFileSync(join(ctx, 'a.txt'), 'two\n');
  r = e.tsbox(['build', '-t', 'cached:2', ctx]);
  t.is(r.code, 0, r.stderr);
  t.is((r.stderr.match(/CACHED/g) ?? []).length, 1);
  const after = e.tsbox(['run', '--rm', 'cached:2', 'cat', '/first', '/second', '/a.txt']);
  t.is(after.stdout.replace(/ /g, ''), '1\n3\ntwo\n');
});

test.serial('SOURCE_DATE_EPOCH: two builds without the cache give the same digest', (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo data > /data && mkdir /d && touch /d/f\nCOPY a.txt /\nENV X=1\n', 'a.txt': 'a\n' });
  const build = () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist/tsbox.cjs'), '--root', e.root, 'build', '--no-cache', ctx], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    t.is(r.status, 0, r.stderr);
    return /exporting manifest (sha256:\w+)/.exec(r.stderr)?.[1];
  };
  const a = build();
  const b = build();
  t.truthy(a);
  t.is(a, b);
  const plain = e.tsbox(['build', '--no-cache', ctx]);
  t.not(/exporting manifest (sha256:\w+)/.exec(plain.stderr)?.[1], a);
});

test.serial('commit: a container with changes becomes an image that runs them', (t) => {
  let r = e.tsbox(['run', '-d', '--name', 'tocommit', 'busybox', 'sh', '-c', 'echo made > /made; rm /etc/group; mkdir -p /var/x && ln -s /made /var/x/l; sleep 1000']);
  t.is(r.code, 0, r.stderr);
  for (let i = 0; i < 50 && e.tsbox(['exec', 'tocommit', 'test', '-e', '/var/x/l']).code !== 0; i++) spawnSync('sleep', ['0.1']);
  r = e.tsbox(['commit', '-c', 'CMD ["cat", "/made"]', '-c', 'ENV COMMITTED=yes', '-m', 'a message', 'tocommit', 'committed:1']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^sha256:[a-f0-9]{64}\n$/);
  // Still running: the pause was undone.
  t.is(e.tsbox(['exec', 'tocommit', 'true']).code, 0);
  e.tsbox(['rm', '-f', 'tocommit']);
  const run = e.tsbox(['run', '--rm', 'committed:1']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'made\n');
  const more = e.tsbox(['run', '--rm', 'committed:1', 'sh', '-c', 'echo $COMMITTED; ls /etc/group 2>&1; readlink /var/x/l; ls /etc/hosts']);
  t.regex(more.stdout, /^yes\n.*No such file or directory\n\/made\n/);
  const inspect = JSON.parse(e.tsbox(['image', 'inspect', 'committed:1']).stdout)[0];
  t.is(inspect.RootFS?.Layers?.length ?? 2, 2);
});

test.serial('a parse error names its line; a failing RUN fails the build with exit code 1', (t) => {
  let ctx = context({ Dockerfile: 'FROM busybox\nRUN true\nBOGUS thing\n' });
  let r = e.tsbox(['build', ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /Dockerfile:3: unknown instruction: BOGUS/);
  ctx = context({ Dockerfile: 'FROM busybox\nRUN exit 3\n' });
  r = e.tsbox(['build', ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /Dockerfile:2: .*exit code: 3/);
  ctx = context({ Dockerfile: 'FROM busybox\nADD http://127.0.0.1:9/x /x\n' });
  r = e.tsbox(['build', ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /needs the network/);
  ctx = context({ Dockerfile: 'FROM busybox\nCOPY missing /x\n' });
  r = e.tsbox(['build', ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /file not found in build context/);
});

test.serial('a hostile base image or Dockerfile cannot write or read the host through symlinks or ..', (t) => {
  const outside = join(work, `escape-${process.pid}`);
  const ctx = context({
    Dockerfile: `FROM busybox\nRUN ln -s ${outside} /evil && ln -s ../../../../../../${outside} /evil2\nCOPY a.txt /evil/\nCOPY a.txt /evil2/b.txt\nCOPY ../../../etc/passwd /stolen\n`,
    'a.txt': 'a\n',
  });
  const r = e.tsbox(['build', '-t', 'hostile:1', ctx]);
  // COPY of ../ stays in the context (as docker: the path is cleaned to the context's root).
  t.is(r.code, 1);
  t.false(existsSync(outside));
  const ctx2 = context({ Dockerfile: `FROM busybox\nRUN ln -s ${outside} /evil && ln -s ../../../../../../${outside} /evil2\nCOPY a.txt /evil/\nCOPY a.txt /evil2/b.txt\n`, 'a.txt': 'a\n' });
  const r2 = e.tsbox(['build', '-t', 'hostile:2', ctx2]);
  t.is(r2.code, 0, r2.stderr);
  t.false(existsSync(outside));
  const inside = e.tsbox(['run', '--rm', 'hostile:2', 'cat', `${outside}/a.txt`, `${outside}/b.txt`]);
  t.is(inside.stdout, 'a\na\n');
});

test.serial('ONBUILD triggers run in the child build; HEALTHCHECK, EXPOSE, LABEL, STOPSIGNAL are stored', (t) => {
  let ctx = context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /trig\nHEALTHCHECK --interval=5s CMD true\nEXPOSE 80 53/udp\nLABEL a=b "c d"=e\nSTOPSIGNAL SIGINT\nVOLUME /data\nENTRYPOINT ["sh", "-c"]\n' });
  let r = e.tsbox(['build', '--label', 'from=cli', '-t', 'parent:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const c = JSON.parse(e.tsbox(['image', 'inspect', 'parent:1']).stdout)[0].Config;
  // ENTRYPOINT clears the CMD the base image had (busybox's sh), as docker does.
  t.falsy(c.Cmd);
  t.deepEqual(c.Entrypoint, ['sh', '-c']);
  t.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
  t.deepEqual(Object.keys(c.ExposedPorts).sort(), ['53/udp', '80/tcp']);
  t.deepEqual(c.Labels, { a: 'b', 'c d': 'e', from: 'cli' });
  t.is(c.StopSignal, 'SIGINT');
  t.deepEqual(c.OnBuild, ['RUN echo triggered > /trig']);
  ctx = context({ Dockerfile: 'FROM parent:1\nCMD ["cat /trig"]\n' });
  r = e.tsbox(['build', '-t', 'child:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const run = e.tsbox(['run', '--rm', 'child:1']);
  t.is(run.stdout, 'triggered\n');
  t.falsy(JSON.parse(e.tsbox(['image', 'inspect', 'child:1']).stdout)[0].Config.OnBuild);
});

test.serial('an overlay upper dir becomes an OCI layer: whiteouts, opaque dirs, owners, modes, xattrs, capabilities, hardlinks', async (t) => {
  const { upperToTar } = await import('../ts/images/layer-tar.js');
  const { readTar } = await import('../ts/images/tar.js');
  const { createReadStream } = await import('node:fs');
  const up = mkdtempSync(join(work, 'upper-'));
  const sh = (cmd: string) => {
    const r = spawnSync('sh', ['-ec', cmd], { cwd: up, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };
  // What overlayfs writes: a 0/0 char device for a deleted file, trusted.overlay.opaque on a directory
  // that replaced a lower one.
  sh('mknod gone c 0 0; mkdir -p opq/sub && setfattr -n trusted.overlay.opaque -v y opq && echo x > opq/sub/f');
  sh('echo data > f && chown 1000:2000 f && chmod 4751 f && ln f f2 && setfattr -n user.note -v hello f && cp /bin/busybox capbin && setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 capbin');
  sh('ln -s /target link && mkfifo fifo && mkdir -p dir/with/a/very/long/path/that/goes/beyond/the/hundred/bytes/of/ustar/names/for/sure && touch dir/with/a/very/long/path/that/goes/beyond/the/hundred/bytes/of/ustar/names/for/sure/leaf');
  const file = join(work, 'layer.tar');
  const lt = await upperToTar(up, file, { clamp: 1000 });
  const entries: Record<string, { type: string; mode: number; uid: number; gid: number; linkname: string; mtime: number; xattrs: string[]; data: string }> = {};
  for await (const { entry, body } of readTar(createReadStream(file))) {
    let data = '';
    await body((b) => {
      data += b.toString('latin1');
    });
    entries[entry.name.replace(/\/$/, '')] = { type: entry.type, mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, linkname: entry.linkname, mtime: entry.mtime, xattrs: Object.keys(entry.xattrs).sort(), data };
  }
  t.is(entries['.wh.gone']?.type, 'file');
  t.false('gone' in entries);
  t.is(entries['opq/.wh..wh..opq']?.type, 'file');
  t.deepEqual(entries.opq.xattrs, []); // overlay's own attribute is not carried
  t.like(entries.f, { type: 'file', mode: 0o4751, uid: 1000, gid: 2000, data: 'data\n', xattrs: ['user.note'] });
  t.like(entries.f2, { type: 'hardlink', linkname: 'f' });
  t.deepEqual(entries.capbin.xattrs, ['security.capability']); // cap_net_raw+ep, as setcap writes it
  t.like(entries.link, { type: 'symlink', linkname: '/target' });
  t.is(entries.fifo.type, 'fifo');
  t.truthy(entries['dir/with/a/very/long/path/that/goes/beyond/the/hundred/bytes/of/ustar/names/for/sure/leaf']);
  t.true(Object.values(entries).every((x) => x.mtime <= 1000));
  // Same tree, same bytes.
  const again = await upperToTar(up, join(work, 'layer2.tar'), { clamp: 1000 });
  t.is(again.digest, lt.digest);
  rmSync(up, { recursive: true, force: true });
});

test.serial('--target builds only the stages it needs; -q and --iidfile give the id; a context and a Dockerfile on stdin', (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox AS broken\nRUN exit 1\nFROM busybox AS good\nRUN echo good > /g\nFROM broken\n', 'a.txt': 'a\n' });
  const iid = join(work, 'iid');
  let r = e.tsbox(['build', '-q', '--iidfile', iid, '--target', 'good', '-t', 'target:1', ctx]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^sha256:[a-f0-9]{64}\n$/);
  t.is(readFileSync(iid, 'utf8'), r.stdout.trim());
  t.is(e.tsbox(['run', '--rm', 'target:1', 'cat', '/g']).stdout, 'good\n');
  r = e.tsbox(['build', '-t', 'whole:1', ctx]);
  t.is(r.code, 1);
  // A tar on stdin is the context; text on stdin is the Dockerfile alone.
  const tarball = join(work, 'ctx.tar');
  spawnSync('tar', ['-C', context({ Dockerfile: 'FROM busybox\nCOPY a.txt /from-tar\n', 'a.txt': 'tar\n' }), '-cf', tarball, '.']);
  const viaTar = spawnSync('sh', ['-c', `node ${join(process.cwd(), 'dist/tsbox.cjs')} --root ${e.root} build -t stdin:1 - < ${tarball}`], { encoding: 'utf8' });
  t.is(viaTar.status, 0, viaTar.stderr);
  t.is(e.tsbox(['run', '--rm', 'stdin:1', 'cat', '/from-tar']).stdout, 'tar\n');
  r = e.tsbox(['build', '-t', 'stdin:2', '-'], 'FROM busybox\nRUN echo df > /df\n');
  t.is(r.code, 0, r.stderr);
  t.is(e.tsbox(['run', '--rm', 'stdin:2', 'cat', '/df']).stdout, 'df\n');
});

test.serial('ADD extracts a local tar; COPY --from an image; SHELL; ARG before FROM; an opaque directory; buildah builds the same tree', (t) => {
  const ctx = context({ 'a.txt': 'a\n' });
  mkdirSync(join(ctx, 'payload/inner'), { recursive: true });
  writeFileSync(join(ctx, 'payload/inner/file'), 'payload\n');
  spawnSync('tar', ['--owner=123', '--group=456', '-C', join(ctx, 'payload'), '-czf', join(ctx, 'payload.tar.gz'), 'inner']);
  rmSync(join(ctx, 'payload'), { recursive: true });
  const dockerfile = (base: string) => `ARG BASE=${base}
FROM \${BASE}
ADD payload.tar.gz /opt/
ADD a.txt /opt/a-added.txt
COPY --from=${base} /bin/busybox /copied-busybox
SHELL ["/bin/sh", "-ec"]
RUN rm -rf /usr && mkdir /usr && echo only > /usr/only
RUN mkdir -p /opt/lower/sub && echo a > /opt/lower/a && echo b > /opt/lower/sub/b
RUN rm -rf /opt/lower && mkdir /opt/lower && echo only > /opt/lower/only
RUN mkdir -p /var/lib/x && chmod 2770 /var/lib/x && chown 1:2 /var/lib/x
`;
  writeFileSync(join(ctx, 'Dockerfile'), dockerfile('busybox'));
  const r = e.tsbox(['build', '-t', 'second:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const check = e.tsbox(['run', '--rm', 'second:1', 'sh', '-c', 'stat -c "%u %g" /opt/inner/file; cat /opt/inner/file /opt/a-added.txt; ls /usr /opt/lower; cmp /bin/busybox /copied-busybox && echo same']);
  t.is(check.code, 0, check.stderr);
  t.regex(check.stdout, /^123 456\npayload\na\n/);
  t.regex(check.stdout, /\/opt\/lower:\nonly\n/);
  t.regex(check.stdout, /same\n$/);
  if (!have('buildah')) return;
  const bdir = mkdtempSync(join(work, 'buildah-'));
  const buildah = (args: string[]) => spawnSync('buildah', ['--root', join(bdir, 'root'), '--runroot', join(bdir, 'runroot'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', timeout: 300000 });
  try {
    writeFileSync(join(bdir, 'Dockerfile'), dockerfile(`docker-archive:${archive}`));
    let b = buildah(['bud', '--isolation', 'chroot', '-f', join(bdir, 'Dockerfile'), '-t', 'ref2', ctx]);
    t.is(b.status, 0, b.stderr);
    b = buildah(['push', 'ref2', `docker-archive:${join(bdir, 'ref2.tar')}:localhost/ref2:latest`]);
    t.is(b.status, 0, b.stderr);
    t.is(e.tsbox(['load', '-i', join(bdir, 'ref2.tar')]).code, 0);
    t.is(tree('second:1'), tree('localhost/ref2:latest').replace(/^\/run 0 0 755 directory\n/m, ''));
  } finally {
    buildah(['rmi', '--all', '--force']);
    unmountBelow(bdir);
    rmSync(bdir, { recursive: true, force: true });
  }
});

test.serial('ADD of a URL: refused without a network, downloaded (mode 0600, not extracted) with --network host', async (t) => {
  const { createServer } = await import('node:http');
  const { gzipSync } = await import('node:zlib');
  const body = gzipSync(Buffer.from('not extracted\n'));
  const server = createServer((req, res) => {
    if (req.url === '/file.gz') res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const ctx = context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/file.gz /dl/\n` });
  let r = e.tsbox(['build', '-t', 'url:1', ctx]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ADD http:\/\/127\.0\.0\.1:\d+\/file\.gz: downloading needs the network/);
  r = await new Promise((resolve) => {
    const c = spawn(process.execPath, [join(process.cwd(), 'dist/tsbox.cjs'), '--root', e.root, 'build', '--network', 'host', '-t', 'url:1', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (b) => (stderr += b));
    c.on('close', (code) => resolve({ code, stdout: '', stderr }));
  });
  t.is(r.code, 0, r.stderr);
  const run = e.tsbox(['run', '--rm', 'url:1', 'sh', '-c', 'stat -c %a /dl/file.gz; gunzip -c /dl/file.gz']);
  t.is(run.stdout, '600\nnot extracted\n');
});

test.serial('an interrupted build (SIGINT during a RUN) leaves no mount, container or temp dir behind', async (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo started && sleep 67.4321\n' });
  const c = spawn(process.execPath, [join(process.cwd(), 'dist/tsbox.cjs'), '--root', e.root, 'build', ctx], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve) => {
    c.stderr.on('data', (b) => {
      stderr += b;
      if (stderr.includes('started\n')) resolve();
    });
  });
  c.kill('SIGINT');
  const code = await new Promise((r) => c.on('close', (code, sig) => r(code ?? sig)));
  t.not(code, 0);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(e.root));
  t.deepEqual(mounts, []);
  t.deepEqual(readdirSync(join(e.root, 'images', 'tmp')).filter((n) => n.startsWith('build-')), []);
  const left = () => spawnSync('sh', ['-c', "ps -eo args= | grep -c '[s]leep 67.4321'"], { encoding: 'utf8' }).stdout.trim();
  for (let i = 0; i < 40 && left() !== '0'; i++) await new Promise((r) => setTimeout(r, 50));
  t.is(left(), '0');
});

test.serial('RUN --mount: a secret is readable in its step and absent from the image; a bind mount of the context is read-only', (t) => {
  const secret = join(work, 'token');
  writeFileSync(secret, 's3cr3t\n');
  const ctx = context({
    Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token > /seen-len && wc -c < /run/secrets/token > /seen-len\nRUN --mount=type=bind,target=/ctx cat /ctx/data > /from-bind && (echo x > /ctx/data) 2>/dev/null || echo ro > /bind-ro\n',
    data: 'bound\n',
  });
  const r = e.tsbox(['build', '--secret', `id=token,src=${secret}`, '-t', 'secret:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const run = e.tsbox(['run', '--rm', 'secret:1', 'sh', '-c', 'cat /seen-len /from-bind /bind-ro; ls /run/secrets /ctx 2>&1; grep -r s3cr3t / --exclude-dir=proc --exclude-dir=sys -l 2>/dev/null | head -1']);
  t.is(run.code, 0, run.stderr);
  t.regex(run.stdout, /^\s*7\nbound\nro\n/);
  t.regex(run.stdout, /\/run\/secrets: No such file or directory/);
  t.regex(run.stdout, /\/ctx: No such file or directory/);
  t.notRegex(run.stdout, /s3cr3t|\/seen/);
  t.is(readFileSync(join(ctx, 'data'), 'utf8'), 'bound\n');
});

test.serial('the cache: a changed build arg reruns the steps after its ARG, --no-cache reruns everything', (t) => {
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo before > /before\nARG V=1\nRUN echo $V > /v\n' });
  const steps = (r: { stderr: string }) => (r.stderr.match(/CACHED/g) ?? []).length;
  let r = e.tsbox(['build', '-t', 'args:1', ctx]);
  t.is(r.code, 0, r.stderr);
  r = e.tsbox(['build', '--build-arg', 'V=2', '-t', 'args:2', ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(steps(r), 1); // the RUN before the ARG only
  t.is(e.tsbox(['run', '--rm', 'args:2', 'cat', '/v']).stdout, '2\n');
  r = e.tsbox(['build', '--build-arg', 'V=2', '-t', 'args:2', ctx]);
  t.is(steps(r), 2);
  r = e.tsbox(['build', '--no-cache', '--build-arg', 'V=2', '-t', 'args:2', ctx]);
  t.is(r.code, 0, r.stderr);
  t.is(steps(r), 0);
});

test.serial('COPY <<EOF writes the heredoc as a file; a cache mount takes uid, gid and mode', (t) => {
  const ctx = context({
    Dockerfile: 'FROM busybox\nENV WHO=heredoc\nCOPY --chmod=755 <<EOF /usr/bin/hello\n#!/bin/sh\necho "hello from $WHO"\nEOF\nCOPY <<"EOT" /literal\n$WHO\nEOT\nUSER nobody\nRUN --mount=type=cache,target=/home/c,uid=65534,gid=65534,mode=0700 id -u > /tmp/u && touch /home/c/x && stat -c "%u %a" /home/c > /tmp/c\n',
  });
  const r = e.tsbox(['build', '-t', 'heredoc:1', ctx]);
  t.is(r.code, 0, r.stderr);
  const run = e.tsbox(['run', '--rm', 'heredoc:1', 'sh', '-c', 'hello; cat /literal /tmp/c; stat -c %a /usr/bin/hello; ls /home 2>&1; true']);
  t.is(run.code, 0, run.stderr);
  t.is(run.stdout, 'hello from heredoc\n$WHO\n65534 700\n755\nls: /home: No such file or directory\n');
});

test.serial('a built image pushed to a registry keeps its digest; podman pulls and runs it (files and whiteouts as built)', async (t) => {
  const { startRegistry } = await import('./helpers/registry.js');
  const reg = await startRegistry();
  t.teardown(() => reg.stop());
  const name = `${reg.addr}/built/app:1`;
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo pushed > /pushed && rm /etc/group\nCOPY a.txt /\nCMD ["cat", "/pushed"]\n', 'a.txt': 'a\n' });
  let r = e.tsbox(['build', '-t', name, ctx]);
  t.is(r.code, 0, r.stderr);
  const local = /exporting manifest (sha256:\w+)/.exec(r.stderr)?.[1];
  r = e.tsbox(['push', name]);
  t.is(r.code, 0, r.stderr);
  const sk = spawnSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${name}`], { encoding: 'utf8' });
  t.is(sk.status, 0, sk.stderr);
  const { createHash } = await import('node:crypto');
  t.is(`sha256:${createHash('sha256').update(sk.stdout).digest('hex')}`, local);
  const { podman, havePodman } = await import('./helpers/podman.js');
  if (!havePodman) return;
  const pm = podman(work);
  const cgroup = `tsbox-test-build-podman-${process.pid}`;
  try {
    // Limits this VM allows, a cgroup of this test's own (removed below).
    const p = await pm.run(['run', '--rm', '--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768', '--cgroup-parent', `/${cgroup}`, '--tls-verify=false', name, 'sh', '-c', 'cat /pushed /a.txt; ls /etc/group 2>&1; true']);
    t.is(p.code, 0, p.stderr);
    t.regex(p.stdout, /^pushed\na\n.*No such file or directory/);
  } finally {
    pm.remove();
    removeCgroupTree(cgroup);
  }
});

test.serial('the library: engine.images.build reports its steps and output; engine.containers.commit', async (t) => {
  const { Engine } = await import('../ts/engine/engine.js');
  const engine = new Engine({ root: e.root });
  const ctx = context({ Dockerfile: 'FROM busybox\nRUN echo from-the-step\nRUN echo lib > /lib-made\n' });
  const steps: string[] = [];
  let output = '';
  const r = await engine.images.build({ context: ctx, dockerfile: readFileSync(join(ctx, 'Dockerfile'), 'utf8'), tags: ['lib:1'], noCache: true, onStep: (s) => steps.push(`${s.step}/${s.steps} ${s.text}`), onOutput: (b) => (output += b) });
  t.deepEqual(steps, ['1/3 FROM busybox', '2/3 RUN echo from-the-step', '3/3 RUN echo lib > /lib-made']);
  t.is(output, 'from-the-step\n');
  t.is(r.ran, 2);
  t.regex(r.id, /^sha256:/);
  const id = await engine.containers.run({ image: 'lib:1', cmd: ['sh', '-c', 'echo more >> /lib-made; sleep 1000'] });
  t.teardown(() => engine.containers.remove(id, { force: true }));
  for (let i = 0; i < 50 && e.tsbox(['exec', id, 'grep', '-q', 'more', '/lib-made']).code !== 0; i++) await new Promise((res) => setTimeout(res, 100));
  const c = await engine.containers.commit(id, { name: 'lib:2', changes: ['CMD ["cat", "/lib-made"]'] });
  t.regex(c.id, /^sha256:/);
  t.is(e.tsbox(['run', '--rm', 'lib:2']).stdout, 'lib\nmore\n');
});
