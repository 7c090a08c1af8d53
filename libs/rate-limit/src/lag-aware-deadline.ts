/**
 * Races `p` against a deadline that the process's own event-loop lag cannot
 * eat. A plain `setTimeout` on a busy replica fires late, in the timers phase,
 * before the poll phase reads a reply that has been waiting in the socket: the
 * store answered in time but the caller sees a timeout and fails open. Here,
 * when the timer fires:
 * - the decision waits for `setImmediate`, i.e. until after the poll phase, so a
 *   reply that already arrived wins;
 * - if the timer fired late (the loop was busy for more than half the timeout),
 *   the store is given one more full timeout: the time went to this process,
 *   not to the store.
 * `now` is injectable for tests.
 */
export function withLagAwareDeadline<T>(
  p: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
  now: () => number = () => performance.now(),
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let extended = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const arm = () => {
      const armedAt = now();
      timer = setTimeout(() => {
        const late = now() - armedAt - timeoutMs;
        setImmediate(() => {
          if (settled) return;
          if (!extended && late > timeoutMs / 2) {
            extended = true;
            arm();
            return;
          }
          finish(() => reject(onTimeout()));
        });
      }, timeoutMs);
    };
    arm();
    p.then(
      (v) => finish(() => resolve(v)),
      (e: unknown) => finish(() => reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
