// The library's errors, on the packed tarball: exported classes with a stable `.code` and their own
// `.name`, thrown where each belongs (a missing image with pulls off, a registry without the image, one
// that refuses, one that cannot be reached, a command that is not there or cannot be executed, a bad
// setup, a bad spec, bad usage), all rejecting the promise of run/spawn/runContainer.
import test from 'ava';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { leftovers, makeBundle, removeBundle, STATE_ROOT } from './helpers/bundle.js';
import { installedEngine, type InstalledEngine, type Tsbox } from './helpers/installed-engine.js';
import { Layout, push, startRegistry, type Registry } from './helpers/registry.js';
import { busyboxRootfs } from './helpers/bundle.js';

let engine: InstalledEngine;
let tsbox: Tsbox;
let reg: Registry;
let authReg: Registry;

test.before(async () => {
  engine = await installedEngine('tsbox-errors-root-');
  tsbox = engine.tsbox;
  [reg, authReg] = await Promise.all([startRegistry(), startRegistry({ user: 'alice', password: 's3cret' })]);
  const l = new Layout(join(engine.root, 'layout'));
  l.image([busyboxRootfs()], { tag: 'latest' });
  l.write();
  await push(join(engine.root, 'layout'), 'latest', `${reg.addr}/remote/busybox:latest`);
});

test.after.always(async () => {
  engine?.remove();
  await reg?.stop();
  await authReg?.stop();
});

/** The rejection of p, checked for its class, name and code (and that it is a TsboxError, an Error). */
async function rejects<E extends Error>(t: import('ava').ExecutionContext, p: Promise<unknown>, cls: new (...a: never[]) => E, name: string, code: string): Promise<E & { code: string }> {
  const e = (await t.throwsAsync(p)) as E & { code: string };
  t.true(e instanceof cls, `${e?.name}: ${e?.message}`);
  t.true(e instanceof tsbox.TsboxError && e instanceof Error);
  t.is(e.name, name, e.message);
  t.is(e.code, code, e.message);
  return e;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

test('every class is exported with its name and code', async (t) => {
  const made: [Error & { code: string }, string, string][] = [
    [new tsbox.TsboxError('x'), 'TsboxError', 'ERR_TSBOX'],
    [new tsbox.UsageError('x'), 'UsageError', 'ERR_USAGE'],
    [new tsbox.SpecError('x'), 'SpecError', 'ERR_INVALID_SPEC'],
    [new tsbox.ContainerError('x', 1), 'ContainerError', 'ERR_CONTAINER_SETUP'],
    [new tsbox.CommandNotFoundError('x', 2), 'CommandNotFoundError', 'ERR_COMMAND_NOT_FOUND'],
    [new tsbox.NotExecutableError('x', 13), 'NotExecutableError', 'ERR_NOT_EXECUTABLE'],
    [new tsbox.RegistryError('x', 500), 'RegistryError', 'ERR_REGISTRY'],
    [new tsbox.PullDeniedError('x', 401), 'PullDeniedError', 'ERR_PULL_DENIED'],
    [new tsbox.ImageNotFoundError('x', 'img'), 'ImageNotFoundError', 'ERR_IMAGE_NOT_FOUND'],
    [new tsbox.MissingToolError('ip'), 'MissingToolError', 'ERR_MISSING_TOOL'],
    [new tsbox.AbortError(), 'AbortError', 'ABORT_ERR'],
  ];
  for (const [e, name, code] of made) {
    t.is(e.name, name);
    t.is(e.code, code);
    t.true(e instanceof tsbox.TsboxError);
    t.true(String(e).startsWith(`${name}: `));
  }
  // The library throws these very classes (bad options: the UsageError exported here) in the tests below.
});

test('a missing image with pull: "never" rejects at once with ERR_IMAGE_NOT_FOUND', async (t) => {
  const t0 = Date.now();
  const e = await rejects(t, tsbox.run({ root: engine.root, image: 'not-in-the-store', pull: 'never' }), tsbox.ImageNotFoundError, 'ImageNotFoundError', 'ERR_IMAGE_NOT_FOUND');
  t.is((e as unknown as { image: string }).image, 'not-in-the-store');
  t.true(Date.now() - t0 < 1000);
});

test('a registry without the image: ImageNotFoundError; one that wants credentials: PullDeniedError (a RegistryError)', async (t) => {
  await rejects(t, tsbox.run({ root: engine.root, image: `${reg.addr}/nothing-here:latest` }), tsbox.ImageNotFoundError, 'ImageNotFoundError', 'ERR_IMAGE_NOT_FOUND');
  const e = await rejects(t, tsbox.run({ root: engine.root, image: `${authReg.addr}/private:latest` }), tsbox.PullDeniedError, 'PullDeniedError', 'ERR_PULL_DENIED');
  t.true(e instanceof tsbox.RegistryError);
  t.is((e as unknown as { status: number }).status, 401);
});

test('a registry that cannot be reached: ERR_REGISTRY_UNREACHABLE naming it; a short name with docker.io out of reach fails at once', async (t) => {
  const port = await freePort();
  const e = await rejects(t, tsbox.run({ root: engine.root, image: `127.0.0.1:${port}/x` }), tsbox.RegistryError, 'RegistryError', 'ERR_REGISTRY_UNREACHABLE');
  t.regex(e.message, new RegExp(`127\\.0\\.0\\.1:${port} cannot be reached.*ECONNREFUSED`));
  // This machine resolves no public name: docker.io's lookup fails, and a failed lookup is not retried.
  const t0 = Date.now();
  const d = await rejects(t, tsbox.run({ root: engine.root, image: 'no-such-image-anywhere' }), tsbox.RegistryError, 'RegistryError', 'ERR_REGISTRY_UNREACHABLE');
  t.regex(d.message, /docker\.io cannot be reached/);
  t.true(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
});

test.serial('pull policies: "missing" pulls once with progress, "always" pulls a stored image again, "never" runs a stored one', async (t) => {
  const image = `${reg.addr}/remote/busybox`;
  const collect = async (c: { stdout: NodeJS.ReadableStream | null; closed: Promise<{ code: number | null }> }) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d));
    return { code: (await c.closed).code, out };
  };
  const progress: { image: string; id?: string; status: string }[] = [];
  t.deepEqual(await collect(await tsbox.run({ root: engine.root, image, cmd: ['echo', 'pulled'], onProgress: (p) => progress.push(p) })), { code: 0, out: 'pulled\n' });
  t.deepEqual(progress[0], { image, status: 'missing' });
  t.true(progress.some((p) => p.id && p.status === 'Pull complete'), JSON.stringify(progress));
  progress.length = 0;
  t.deepEqual(await collect(await tsbox.run({ root: engine.root, image, cmd: ['true'], onProgress: (p) => progress.push(p) })), { code: 0, out: '' });
  t.deepEqual(progress, [], 'stored: no pull');
  t.deepEqual(await collect(await tsbox.run({ root: engine.root, image, cmd: ['true'], pull: 'always', onProgress: (p) => progress.push(p) })), { code: 0, out: '' });
  t.true(progress.some((p) => p.status === 'Already exists'), JSON.stringify(progress));
  t.false(progress.some((p) => p.status === 'missing'));
  // "always" for a stored image whose registry is out of reach fails: it did ask the registry.
  await rejects(t, tsbox.run({ root: engine.root, image: 'busybox', cmd: ['true'], pull: 'always' }), tsbox.RegistryError, 'RegistryError', 'ERR_REGISTRY_UNREACHABLE');
  t.deepEqual(await collect(await tsbox.run({ root: engine.root, image: 'busybox', cmd: ['echo', 'stored'], pull: 'never' })), { code: 0, out: 'stored\n' });
});

test('a command that is not there: CommandNotFoundError (127), from run, spawn and runContainer', async (t) => {
  const b = makeBundle(['/no/such/command']);
  t.teardown(() => removeBundle(b));
  for (const p of [
    tsbox.run({ root: engine.root, image: 'busybox', cmd: ['/no/such/command'] }),
    tsbox.spawn('/no/such/command'),
    tsbox.runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT }),
  ]) {
    const e = await rejects(t, p, tsbox.CommandNotFoundError, 'CommandNotFoundError', 'ERR_COMMAND_NOT_FOUND');
    t.true(e instanceof tsbox.ContainerError);
    t.is((e as unknown as { errno: number; exitCode: number }).errno, 2);
    t.is((e as unknown as { exitCode: number }).exitCode, 127);
  }
});

test('a command that cannot be executed: NotExecutableError (126), from run, spawn and runContainer', async (t) => {
  const b = makeBundle(['/etc/passwd']);
  t.teardown(() => removeBundle(b));
  for (const p of [tsbox.run({ root: engine.root, image: 'busybox', cmd: ['/etc/passwd'] }), tsbox.spawn('/etc/passwd'), tsbox.runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT })]) {
    const e = await rejects(t, p, tsbox.NotExecutableError, 'NotExecutableError', 'ERR_NOT_EXECUTABLE');
    t.is((e as unknown as { errno: number }).errno, 13);
    t.is((e as unknown as { exitCode: number }).exitCode, 126);
  }
});

test('a setup failure in the container: ContainerError with its errno', async (t) => {
  const b = makeBundle(['true'], (s) => {
    s.process!.cwd = '/etc/passwd';
  });
  t.teardown(() => removeBundle(b));
  const e = await rejects(t, tsbox.runContainer({ id: b.id, spec: b.spec, bundle: b.dir, root: STATE_ROOT }), tsbox.ContainerError, 'ContainerError', 'ERR_CONTAINER_SETUP');
  t.is((e as unknown as { errno: number }).errno, 20, e.message);
});

test('a bad spec: SpecError; bad options: UsageError', async (t) => {
  await rejects(t, tsbox.runContainer({ spec: { ociVersion: '1.1.0', process: { args: [], cwd: '/' } } as never, root: STATE_ROOT }), tsbox.SpecError, 'SpecError', 'ERR_INVALID_SPEC');
  await rejects(t, tsbox.run({ root: engine.root, image: 'busybox', cmd: ['true'], user: 'nobody-by-that-name' }), tsbox.UsageError, 'UsageError', 'ERR_USAGE');
  await rejects(t, tsbox.run({ root: engine.root, image: 'busybox', pull: 'sometimes' as never }), tsbox.UsageError, 'UsageError', 'ERR_USAGE');
});

test.after.always('nothing left behind', (t) => {
  t.deepEqual(leftovers(), { cgroups: [], states: [] });
});
