// A synchronous pause for the runtime's few blocking waits (a process to go, a cgroup to empty, a pipe
// to drain): Atomics.wait on a buffer no one notifies, which sleeps the thread without spinning.
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
