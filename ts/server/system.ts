// /_ping, /version, /info.
import { arch, cpus, hostname, release, totalmem } from 'node:os';
import { hostInfo } from '../engine/info.js';
import { MAX_VERSION, MIN_VERSION, sendJson, type Ctx, type Router } from './router.js';

const VERSION = '0.1.0';

function ping(c: Ctx): void {
  const h = { 'Api-Version': MAX_VERSION, 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Docker-Experimental': 'false', 'Ostype': 'linux' };
  c.res!.writeHead(200, { ...h, 'Content-Length': 2 });
  c.res!.end(c.req.method === 'HEAD' ? undefined : 'OK');
}

function version(c: Ctx): void {
  const goArch = { x64: 'amd64', arm64: 'arm64' }[arch()] ?? arch();
  sendJson(c, 200, {
    Platform: { Name: 'tsbox' },
    Components: [{ Name: 'Engine', Version: VERSION, Details: { ApiVersion: MAX_VERSION, MinAPIVersion: MIN_VERSION, Os: 'linux', Arch: goArch } }],
    Version: VERSION,
    ApiVersion: MAX_VERSION,
    MinAPIVersion: MIN_VERSION,
    GitCommit: '',
    GoVersion: `node${process.versions.node}`,
    Os: 'linux',
    Arch: goArch,
    KernelVersion: release(),
    BuildTime: '',
  });
}

function info(c: Ctx): void {
  const h = hostInfo(c.engine.root);
  const all = c.engine.containers.list({ all: true });
  sendJson(c, 200, {
    ID: 'tsbox',
    Containers: all.length,
    ContainersRunning: all.filter((s) => s.State === 'running').length,
    ContainersPaused: all.filter((s) => s.State === 'paused').length,
    ContainersStopped: all.filter((s) => s.State !== 'running' && s.State !== 'paused').length,
    Images: c.engine.images.list().length,
    Driver: h.StorageDriver,
    DriverStatus: [],
    Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file'] },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    PidsLimit: true,
    OomKillDisable: false,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: h.CgroupVersion,
    KernelVersion: h.Kernel,
    OperatingSystem: 'tsbox',
    OSType: 'linux',
    Architecture: arch() === 'x64' ? 'x86_64' : arch(),
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: h.RootDir,
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: VERSION,
    Runtimes: { tsbox: { path: 'tsbox-runtime' } },
    DefaultRuntime: 'tsbox',
    SecurityOptions: h.Seccomp.startsWith('supported') ? ['name=seccomp,profile=default'] : [],
    Warnings: h.Rootless ? [`rootless: ${h.Cgroups}`] : [],
  });
}

export function systemRoutes(r: Router): void {
  r.on('GET', '/_ping', ping)
    .on('HEAD', '/_ping', ping)
    .on('GET', '/version', version)
    .on('GET', '/info', info);
}
