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
