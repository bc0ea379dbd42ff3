// tsbox's public API.
export { runContainer, Container, ContainerProcess, Pty, decodeWaitStatus, type RuntimeOptions, type StdioOption, type Stdio, type KillOptions, type Input, type ProcessExit, type ContainerProcessEvents } from './runtime/api.js';
export { TsboxError, UsageError, SpecError, ContainerError, CommandNotFoundError, NotExecutableError, RegistryError, PullDeniedError, ImageNotFoundError, MissingToolError, AbortError } from './errors.js';
export { loadSpec, validateSpec, type OciSpec, type OciProcess, type OciMount } from './runtime/spec.js';
export { defaultSpec } from './runtime/default-spec.js';
export { sandboxSpec, type SandboxOptions } from './engine/sandbox.js';
export { run, spawn, type RunImageOptions, type SpawnOptions, type EngineContainer } from './engine/api.js';
export type { PullPolicy, PullProgress } from './engine/run.js';
export { pull, type PullOptions } from './images/pull.js';
export { setAddonPath } from './native.js';
export * as runtime from './runtime/operations.js';
export type { ExitStatus } from './native.js';
export type { CgroupStats } from './runtime/cgroup/index.js';
export { Engine, Containers, engine, type EngineOptions, type CreateOptions } from './engine/engine.js';
export { Images, type ImageSummary, type ImageInspect, type ImageFilters, type HistoryEntry, type ImageConfigFields } from './engine/images.js';
export type { ContainerInspect, ContainerSummary, ContainerState, ContainerConfig, HostConfig, NetworkSettings, EndpointSettings, MountPoint, PortBinding, ContainerFilters, ListOptions } from './engine/inspect.js';
export type { StopOptions, RemoveOptions, LogsOptions, LogEntry, WaitCondition, WaitResult, TopResult, ContainerStats, CpuStats } from './engine/lifecycle.js';
export { EngineError } from './engine/containers.js';
export { defaultRoot } from './engine/root.js';
