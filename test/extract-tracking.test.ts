// The layer extraction answers "what is at this path" from what it made itself (no lstat per entry):
// hostile orders of entries that replace one kind of file by another must still never write through a
// symlink, into a fresh directory and into one that already holds files.
import test from 'ava';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractLayer } from '../ts/images/extract.js';
import { rawTar } from './helpers/registry.js';

const work = mkdtempSync(join(tmpdir(), 'tsbox-extract-'));
const canary = join(work, 'canary');
mkdirSync(canary);
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const extract = (entries: Parameters<typeof rawTar>[0], into = mkdtempSync(join(work, 'l-'))) => extractLayer(Readable.from([rawTar(entries)]), into).then(() => into);

test('a symlink, or a file later replaced by one, is never a parent of a later entry', async (t) => {
  await t.throwsAsync(extract([{ name: 'x', type: '2', linkname: canary }, { name: 'x/pwned', data: 'escaped' }]), { message: /through the symlink "x"/ });
  await t.throwsAsync(extract([{ name: 'd', data: 'file' }, { name: 'd', type: '2', linkname: canary }, { name: 'd/pwned', data: 'escaped' }]), { message: /through the symlink "d"/ });
  await t.throwsAsync(extract([{ name: 'f', data: 'file' }, { name: 'f/under', data: 'x' }]), { message: /parent "f" is not a directory/ });
  // A hardlink to what a symlink points at is refused the same way.
  await t.throwsAsync(extract([{ name: 'y', type: '2', linkname: canary }, { name: 'h', type: '1', linkname: 'y/target' }]), { message: /through the symlink "y"/ });
  t.deepEqual(readdirSync(canary), []);
});

test('a directory entry replaces a symlink and a file of the same name; later entries land inside the layer', async (t) => {
  const root = await extract([
    { name: 's', type: '2', linkname: canary },
    { name: 's/', type: '5' },
    { name: 's/in', data: 'inside' },
    { name: 'f', data: 'file' },
    { name: 'f/', type: '5' },
    { name: 'f/in', data: 'inside too' },
    { name: 'a', data: 'one' },
    { name: 'a', data: 'two' },
    { name: 'l', type: '1', linkname: 'a' },
  ]);
  t.true(lstatSync(join(root, 's')).isDirectory());
  t.is(readFileSync(join(root, 's', 'in'), 'utf8'), 'inside');
  t.is(readFileSync(join(root, 'f', 'in'), 'utf8'), 'inside too');
  t.is(readFileSync(join(root, 'l'), 'utf8'), 'two');
  t.deepEqual(readdirSync(canary), []);
});

test('into a directory that already holds files, what is there is looked at: its symlinks are never followed', async (t) => {
  const root = mkdtempSync(join(work, 'pre-'));
  symlinkSync(canary, join(root, 'pre'));
  mkdirSync(join(root, 'dir'));
  await t.throwsAsync(extract([{ name: 'pre/pwned', data: 'escaped' }], root), { message: /through the symlink "pre"/ });
  t.deepEqual(readdirSync(canary), []);
  // A file entry replaces the symlink; the directory takes entries.
  await extract([{ name: 'pre', data: 'now a file' }, { name: 'dir/in', data: 'x' }], root);
  t.is(readFileSync(join(root, 'pre'), 'utf8'), 'now a file');
  t.true(existsSync(join(root, 'dir', 'in')));
  await t.throwsAsync(extract([{ name: 'h', type: '1', linkname: 'absent' }], root), { message: /not in this layer/ });
});
