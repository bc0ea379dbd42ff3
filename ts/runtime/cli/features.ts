// `tsbox runtime features`: what this runtime supports, in the OCI features document format.
import { OCI_VERSION } from '../spec.js';
import { MS, RECURSIVE_MOUNT_OPTIONS } from '../mount-options.js';

export function features() {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'poststart', 'poststop'],
    mountOptions: [
      ...Object.keys(MS).map((k) => k.toLowerCase()).filter((k) => !['rec', 'bind', 'move', 'silent', 'remount', 'synchronous', 'mandlock'].includes(k)),
      'ro', 'rw', 'suid', 'dev', 'exec', 'sync', 'async', 'bind', 'rbind',
      'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'unbindable', 'runbindable',
      ...RECURSIVE_MOUNT_OPTIONS,
    ],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'],
      capabilities: undefined as string[] | undefined,
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP'],
        operators: ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'],
        archs: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'run.tsbox.init': 'true: tsbox-init is pid 1 (default); false: the process is pid 1' },
  };
}
