// Test helpers shared by every lib's specs. Imported as `@switchboard/common/testing`;
// never part of the production entry point.

export interface WaitForOptions {
  /** give up after this long (default 5 s) */
  timeoutMs?: number;
  /** how often the condition is evaluated (default 10 ms) */
  intervalMs?: number;
  /** what was awaited, for the error */
  what?: string;
}

/**
 * Resolves as soon as `condition` returns true; rejects when it has not within the
 * timeout. For state another task changes (a row written, a job finished, a socket
 * closed): the test proceeds when the state is there, not after a guessed sleep. The
 * timeout only bounds a failure. Needs real timers: under `jest.useFakeTimers()`,
 * advance the clock instead.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  opts: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline)
      throw new Error(`${opts.what ?? 'condition'} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
