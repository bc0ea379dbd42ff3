// A docker-archive (docker save format) of a rootfs directory, made with tar(1): what `ctr image import`
// and `podman load` read.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** image: the image config's Entrypoint and Cmd (default: no entrypoint, `sh`). */
export function dockerArchive(rootfs: string, out: string, tag: string, image: { Entrypoint?: string[]; Cmd?: string[] } = {}): void {
  const dir = mkdtempSync(join(tmpdir(), 'tsbox-archive-'));
  try {
    execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', join(dir, 'layer.tar'), '.']);
    const config = JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], ...image },
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(join(dir, 'layer.tar'))}`] },
    });
    const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
    writeFileSync(join(dir, configName), config);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['layer.tar'] }]));
    execFileSync('tar', ['-C', dir, '-cf', out, 'manifest.json', configName, 'layer.tar']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
