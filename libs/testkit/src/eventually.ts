/**
 * Polls `check` until it returns true; resolves with the time it took. Integration checks wait for
 * a condition rather than sleep: the machine may be busy with other work.
 *
 * @throws Error naming `what` when `timeoutMs` passes first
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what = 'condition',
  stepMs = 25,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
