// The addon's SOCK_SEQPACKET primitives the runtime server listens with (msgListen & co.), Node on both
// sides: messages and their fds arrive in order, a closed connection is delivered once as null, msgClose
// stops accepting.
import test from 'ava';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../ts/native.js';

type Got = { conn: number; data: Buffer | null; fds: number[] };

function listen(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-msg-'));
  const path = join(dir, 's.sock');
  const got: Got[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const fd = native().msgListen(path, (conn, data, fds) => {
    got.push({ conn, data, fds });
    wake?.();
  });
  const stop = () => {
    if (!closed) native().msgClose(fd);
    closed = true;
  };
  t.teardown(() => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const next = async (n: number) => {
    while (got.length < n) await new Promise<void>((r) => (wake = r));
    return got[n - 1];
  };
  return { path, fd, next, stop };
}

test('a message with fds arrives whole, the fds work, replies reach the client, a close arrives as null', async (t) => {
  const { path, next } = listen(t);
  t.is(statSync(path).mode & 0o777, 0o600);
  const c = native().msgConnect(path);
  const [r, w] = native().pipe();
  const big = Buffer.alloc(1 << 20, 7); // larger than the default socket buffer
  big[0] = 0x52;
  native().msgSend(c, big, [r, w]);
  native().close(r);
  native().close(w);
  const m = await next(1);
  t.deepEqual(m.data, big);
  t.is(m.fds.length, 2);
  // O_CLOEXEC, and the pair is the same pipe: a byte written through one arrives at the other.
  writeSync(m.fds[1], 'x');
  const b = Buffer.alloc(1);
  t.is(readSync(m.fds[0], b), 1);
  t.is(b.toString(), 'x');
  t.true(fstatSync(m.fds[0]).isFIFO());
  for (const fd of m.fds) closeSync(fd);

  const cred = native().peerCred(m.conn);
  t.is(cred.pid, process.pid);
  t.is(cred.uid, process.getuid!());
  t.is(cred.gid, process.getgid!());

  const devnull = openSync('/dev/null', 'r');
  native().msgSend(m.conn, Buffer.from('Zok'), [devnull]);
  closeSync(devnull);
  const back = native().msgRecv(c);
  t.is(back.data?.toString(), 'Zok');
  t.is(back.fds.length, 1);
  t.true(fstatSync(back.fds[0]).isCharacterDevice());
  closeSync(back.fds[0]);

  native().close(c);
  const end = await next(2);
  t.is(end.conn, m.conn);
  t.is(end.data, null);
  t.deepEqual(end.fds, []);
});

test('connections are served apart and in order; msgClose stops accepting but serves what was accepted', async (t) => {
  const { path, next, stop } = listen(t);
  const a = native().msgConnect(path);
  const b = native().msgConnect(path);
  native().msgSend(a, Buffer.from('a1'), []);
  native().msgSend(b, Buffer.from('b1'), []);
  native().msgSend(a, Buffer.from('a2'), []);
  const seen: string[] = [];
  for (let i = 1; i <= 3; i++) seen.push((await next(i)).data!.toString());
  t.deepEqual(seen.filter((s) => s.startsWith('a')), ['a1', 'a2']);
  t.true(seen.includes('b1'));
  stop();
  // The thread closes the listening socket: new connections are refused (the client goes cold).
  let refused: NodeJS.ErrnoException | undefined;
  for (let i = 0; i < 100 && !refused; i++) {
    try {
      native().close(native().msgConnect(path));
      await new Promise((r) => setTimeout(r, 10));
    } catch (e) {
      refused = e as NodeJS.ErrnoException;
    }
  }
  t.is(refused?.code, 'ECONNREFUSED');
  t.regex(refused!.message, /^connect .*s\.sock: ECONNREFUSED$/);
  native().msgSend(b, Buffer.from('b2'), []);
  t.is((await next(4)).data!.toString(), 'b2');
  native().close(a);
  native().close(b);
  const ends = [await next(5), await next(6)];
  t.true(ends.every((e) => e.data === null));
  t.throws(() => native().msgClose(12345), { code: 'EBADF' });
});

test('errors name the call and its path or fd', (t) => {
  t.throws(() => native().msgConnect('/nonexistent-dir/x.sock'), { message: 'connect /nonexistent-dir/x.sock: ENOENT', code: 'ENOENT' });
  t.throws(() => native().msgSend(987654, Buffer.from('x'), []), { message: 'sendmsg fd 987654: EBADF' });
  t.throws(() => native().peerCred(987654), { message: 'getsockopt SO_PEERCRED fd 987654: EBADF' });
  t.throws(() => native().msgListen('/nonexistent-dir/x.sock', () => {}), { message: 'bind /nonexistent-dir/x.sock: ENOENT' });
});
