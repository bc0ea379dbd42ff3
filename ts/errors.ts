// tsbox's errors: one base class with a stable `.code` (what a caller switches on; messages may change)
// and a `.name` that says the class. Bottom layer: every other layer may throw these.

/** Every error tsbox throws on purpose. `code` is stable across versions; the message is for people. */
export class TsboxError extends Error {
  readonly code: string;
  constructor(message: string, code = 'ERR_TSBOX', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad flags or arguments: printed as one line, exit code 125 (as docker does). */
export class UsageError extends TsboxError {
  constructor(message: string) {
    super(message, 'ERR_USAGE');
  }
}

/** A spec that cannot run: the message is one line naming the field. */
export class SpecError extends TsboxError {
  constructor(message: string) {
    super(message, 'ERR_INVALID_SPEC');
  }
}

/** A setup or exec failure inside the container, as tsbox-init reported it (errno: the failed call's). */
export class ContainerError extends TsboxError {
  constructor(
    message: string,
    readonly errno: number,
    code = 'ERR_CONTAINER_SETUP',
  ) {
    super(message, code);
  }
}

/** The command does not exist in the container (exec ENOENT/ENOTDIR): docker's exit code 127. */
export class CommandNotFoundError extends ContainerError {
  readonly exitCode = 127;
  constructor(message: string, errno: number) {
    super(message, errno, 'ERR_COMMAND_NOT_FOUND');
  }
}

/** The command exists but cannot be executed (EACCES, ENOEXEC, ...): docker's exit code 126. */
export class NotExecutableError extends ContainerError {
  readonly exitCode = 126;
  constructor(message: string, errno: number) {
    super(message, errno, 'ERR_NOT_EXECUTABLE');
  }
}

const ENOENT = 2;
const ENOTDIR = 20;

/** The error for a failure tsbox-init reported: the exec's own kinds for "exec ..." messages. */
export function containerError(message: string, errno: number): ContainerError {
  if (!/^exec /.test(message)) return new ContainerError(message, errno);
  return errno === ENOENT || errno === ENOTDIR ? new CommandNotFoundError(message, errno) : new NotExecutableError(message, errno);
}

/**
 * A registry answered with an error (status: the HTTP one) or sent bad content (ERR_REGISTRY), or could
 * not be reached at all (ERR_REGISTRY_UNREACHABLE).
 */
export class RegistryError extends TsboxError {
  constructor(
    message: string,
    readonly status?: number,
    code = 'ERR_REGISTRY',
  ) {
    super(message, code);
  }
}

/** The registry refused the pull (401/403: no such repository, or it needs credentials). */
export class PullDeniedError extends RegistryError {
  constructor(message: string, status?: number) {
    super(message, status, 'ERR_PULL_DENIED');
  }
}

/** The image is neither in the store nor (when a pull was allowed) in its registry. */
export class ImageNotFoundError extends TsboxError {
  constructor(
    message: string,
    readonly image: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'ERR_IMAGE_NOT_FOUND', options);
  }
}

/** The host programs tsbox runs, what needs each, and where Debian has it (the README's table). */
export const HOST_TOOLS = {
  ip: { feature: 'bridge networking (--network bridge, user networks, -p)', install: 'apt-get install iproute2' },
  nsenter: { feature: 'bridge networking (--network bridge, user networks, -p)', install: 'apt-get install util-linux' },
  nft: { feature: "bridge networking's masquerade rule (or iptables)", install: 'apt-get install nftables' },
  iptables: { feature: "bridge networking's masquerade rule without nft", install: 'apt-get install iptables' },
  newuidmap: { feature: 'rootless containers with subordinate ids (/etc/subuid)', install: 'apt-get install uidmap' },
  newgidmap: { feature: 'rootless containers with subordinate ids (/etc/subgid)', install: 'apt-get install uidmap' },
  slirp4netns: { feature: 'user-mode networking (--network slirp4netns, the rootless choice)', install: 'apt-get install slirp4netns' },
  zstd: { feature: 'pulling zstd-compressed layers', install: 'apt-get install zstd' },
} as const;

export type HostTool = keyof typeof HOST_TOOLS;

/** A host program a feature needs (ip, nsenter, newuidmap, slirp4netns, ...) is not installed. */
export class MissingToolError extends TsboxError {
  constructor(
    readonly tool: string,
    where = 'PATH',
  ) {
    const t = (HOST_TOOLS as Record<string, { feature: string; install: string }>)[tool];
    super(`${tool}: not found in ${where}${t ? `; ${t.feature} needs it (${t.install})` : ''}`, 'ERR_MISSING_TOOL');
  }
}

/** MissingToolError for a spawn of `tool` that failed with ENOENT (the program is not there); undefined otherwise. */
export function missingTool(tool: string, e: unknown): MissingToolError | undefined {
  const err = e as NodeJS.ErrnoException & { status?: number; stderr?: string | Buffer };
  if (err?.code === 'ENOENT' && (err.path === tool || err.syscall === `spawnSync ${tool}` || err.syscall === `spawn ${tool}`)) return new MissingToolError(tool.slice(tool.lastIndexOf('/') + 1));
  return undefined;
}

/** child_process's AbortError: what 'error' gets when an AbortSignal ends the process. */
export class AbortError extends TsboxError {
  constructor(options?: { cause?: unknown }) {
    super('The operation was aborted', 'ABORT_ERR', options);
  }
}
