// docker system info / version / df / prune: what the engine is, runs on and keeps on disk, and clearing
// what nothing uses. Typed results; the CLI formats them.
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { Store } from '../images/store.js';
import { dirSize, imageSize } from '../images/manage.js';
import { containerDir, listRecords, liveState } from './containers.js';
import { removeContainerFiles } from './run.js';
import { hostInfo, type HostInfo } from './info.js';
import { listVolumes, mountpoint, volumesOf } from './volumes.js';
import type { Networks } from './networks.js';
import { pruneImages, type ImagePruneResult } from './image-archive.js';
import type { Images } from './images.js';

/** The engine's version. */
export const ENGINE_VERSION = '0.1.0';

/** docker version's object: the client and the server, the engine in this process as both. */
export interface VersionInfo {
  Client: VersionSide;
  Server: VersionSide & { Components: { Name: string; Version: string; Details: { ApiVersion: string; Os: string; Arch: string } }[] };
}
export interface VersionSide {
  Platform: { Name: string };
  Version: string;
  ApiVersion: string;
  NodeVersion: string;
  Os: string;
  Arch: string;
  BuildTime: string;
  GitCommit: string;
}

/** docker info's object (GET /info): its counts and host facts under docker's keys, and tsbox's own report. */
export interface SystemInfo extends HostInfo {
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DockerRootDir: string;
  ServerVersion: string;
  KernelVersion: string;
  OperatingSystem: string;
  OSType: string;
  Architecture: string;
  NCPU: number;
  MemTotal: number;
  Name: string;
  CgroupDriver: string;
}

/** One line of docker system df: how many, how many in use, their bytes, the bytes nothing uses. */
export interface DiskUsageRow {
  Total: number;
  Active: number;
  Size: number;
  Reclaimable: number;
}
export interface DiskUsage {
  Images: DiskUsageRow;
  Containers: DiskUsageRow;
  Volumes: DiskUsageRow;
}

export interface SystemPruneResult {
  ContainersDeleted: string[];
  NetworksDeleted: string[];
  Images: ImagePruneResult;
}

const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);

export class System {
  constructor(
    readonly root: string,
    private readonly images: Images,
    private readonly networks: Networks,
  ) {}

  /** docker info: the mode, cgroups, id mapping, storage, seccomp and networking as they will be used here. */
  info(): SystemInfo {
    const host = hostInfo(this.root);
    const states = listRecords(this.root).map((r) => liveState(this.root, r));
    const running = states.filter((s) => s.Running && !s.Paused).length;
    const paused = states.filter((s) => s.Paused).length;
    return {
      ...host,
      Containers: states.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: states.length - running - paused,
      Images: new Set(new Store(this.root).images().map((i) => i.config)).size,
      Driver: host.StorageDriver,
      DockerRootDir: this.root,
      ServerVersion: ENGINE_VERSION,
      KernelVersion: release(),
      OperatingSystem: 'tsbox',
      OSType: 'linux',
      Architecture: process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch,
      NCPU: cpus().length,
      MemTotal: totalmem(),
      Name: hostname(),
      CgroupDriver: 'cgroupfs',
    };
  }

  /** docker version (version: the caller's, as client; default the engine's). */
  version(version = ENGINE_VERSION): VersionInfo {
    const goArch = process.arch === 'x64' ? 'amd64' : process.arch;
    const side = { Platform: { Name: 'tsbox' }, Version: version, ApiVersion: '1.41', NodeVersion: process.versions.node, Os: process.platform, Arch: goArch, BuildTime: '', GitCommit: '' };
    return { Client: side, Server: { ...side, Components: [{ Name: 'Engine', Version: version, Details: { ApiVersion: '1.41', Os: process.platform, Arch: goArch } }] } };
  }

  /** docker system df: images, containers (their writable layers) and volumes, in bytes. */
  df(): DiskUsage {
    const store = new Store(this.root);
    const images = store.images();
    const containers = listRecords(this.root);
    const used = new Set(containers.map((r) => r.ImageId));
    const sizes = images.map((i) => [imageSize(store, i), used.has(i.config)] as const);
    const running = containers.map((r) => liveState(this.root, r).Running);
    // A container's own size is its snapshot's upper layer.
    const cSizes = containers.map((r) => dirSize(join(containerDir(this.root, r.Id), 'snapshot', 'upper')));
    const inUse = new Set(containers.flatMap(volumesOf));
    const vols = listVolumes(this.root).map((v) => [dirSize(mountpoint(this.root, v.Name)), inUse.has(v.Name)] as const);
    const iTotal = sum(sizes.map(([n]) => n));
    return {
      Images: { Total: images.length, Active: sizes.filter(([, u]) => u).length, Size: iTotal, Reclaimable: iTotal - sum(sizes.filter(([, u]) => u).map(([n]) => n)) },
      Containers: { Total: containers.length, Active: running.filter(Boolean).length, Size: sum(cSizes), Reclaimable: sum(cSizes.filter((_, k) => !running[k])) },
      Volumes: { Total: vols.length, Active: vols.filter(([, u]) => u).length, Size: sum(vols.map(([n]) => n)), Reclaimable: sum(vols.filter(([, u]) => !u).map(([n]) => n)) },
    };
  }

  /** docker container prune: every container not running; their ids. */
  pruneContainers(): string[] {
    const out: string[] = [];
    for (const r of listRecords(this.root)) {
      if (liveState(this.root, r).Running) continue;
      removeContainerFiles(this.root, r.Id);
      out.push(r.Id);
    }
    return out;
  }

  /** docker system prune: stopped containers, unused networks, dangling images (all unused ones with all). */
  prune(o: { all?: boolean } = {}): SystemPruneResult {
    const ContainersDeleted = this.pruneContainers();
    const { NetworksDeleted } = this.networks.prune();
    return { ContainersDeleted, NetworksDeleted, Images: pruneImages(this.root, { all: o.all }, this.images) };
  }
}
