// A minimal streaming tar writer of regular files: what save needs.
import { createReadStream, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { entryHeader, padding, writeChunk } from './tar-header.js';

const fileHeader = (name: string, size: number) => entryHeader({ name, type: '0', mode: 0o644, uid: 0, gid: 0, size, mtime: Date.now() / 1000 });

export class TarWriter {
  constructor(private readonly out: Writable) {}

  async addBuffer(name: string, data: Buffer): Promise<void> {
    await writeChunk(this.out, fileHeader(name, data.length));
    await writeChunk(this.out, data);
    const pd = padding(data.length);
    if (pd.length) await writeChunk(this.out, pd);
  }

  async addFile(name: string, path: string): Promise<void> {
    const size = statSync(path).size;
    await writeChunk(this.out, fileHeader(name, size));
    for await (const chunk of createReadStream(path)) await writeChunk(this.out, chunk as Buffer);
    const pd = padding(size);
    if (pd.length) await writeChunk(this.out, pd);
  }

  async finish(): Promise<void> {
    await writeChunk(this.out, Buffer.alloc(1024));
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
