import { withLagAwareDeadline } from './lag-aware-deadline';

class Late extends Error {}

/** blocks the event loop, as a busy replica does */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

describe('withLagAwareDeadline', () => {
  it('lets a reply that arrived while the loop was busy win over a timer that fired late', async () => {
    let resolveReply!: (v: string) => void;
    const reply = new Promise<string>((r) => (resolveReply = r));
    const result = withLagAwareDeadline(reply, 5, () => new Late());
    // the reply is delivered by a callback that runs in the same loop turn as the
    // late timer, after it (as socket data read in the poll phase would be)
    setTimeout(() => resolveReply('ok'), 5);
    busy(30);
    await expect(result).resolves.toBe('ok');
  });

  it('gives the store one more full timeout when the timer fired late because the loop was busy', async () => {
    // the clock says the timer fired 100 ms late the first time, on time the second
    const times = [0, 110, 200, 210];
    const now = () => times.shift() ?? 1_000;
    let resolveReply!: (v: string) => void;
    const reply = new Promise<string>((r) => (resolveReply = r));
    jest.useFakeTimers();
    try {
      const result = withLagAwareDeadline(reply, 10, () => new Late(), now);
      // answer only after the first deadline was handled: only the extension can catch it
      await jest.advanceTimersByTimeAsync(10); // the deadline timer
      await jest.advanceTimersByTimeAsync(1); // its setImmediate decision
      resolveReply('late but in time');
      await expect(result).resolves.toBe('late but in time');
    } finally {
      jest.useRealTimers();
    }
  });

  it('times out when the store really does not answer', async () => {
    const never = new Promise<string>(() => undefined);
    await expect(withLagAwareDeadline(never, 5, () => new Late())).rejects.toBeInstanceOf(Late);
  });

  it('passes the store error through', async () => {
    await expect(
      withLagAwareDeadline(Promise.reject(new Error('NOSCRIPT')), 50, () => new Late()),
    ).rejects.toThrow('NOSCRIPT');
  });
});
