/**
 * Stops a process as a container runtime does: `stop()` now (SIGTERM), `kill()` (SIGKILL) if
 * `exited` has not settled within `graceMs`. Resolves with what `exited` resolves with.
 */
export async function stopWithGrace<T>(exited: Promise<T>, stop: () => void, kill: () => void, graceMs: number): Promise<T> {
  stop();
  const timer = setTimeout(kill, graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
