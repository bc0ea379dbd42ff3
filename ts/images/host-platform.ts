// The host's platform in an image index's terms, apart from the registry client that also uses it
// (a run of a stored image loads this, not the client).
export function hostPlatform(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  return `linux/${arch}`;
}
