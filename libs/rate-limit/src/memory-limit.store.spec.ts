import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { limitStoreContract, type StoreHarness } from '../test/limit-store.contract';
import { MemoryLimitStore } from './memory-limit.store';

function harness(): StoreHarness {
  let now = 1_700_000_000_000;
  const store = new MemoryLimitStore(() => now);
  return {
    store,
    windowMs: 60_000,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

describe('MemoryLimitStore (LimitStore contract)', () => {
  it.each(limitStoreContract)('%s', async (_name, run) => run(harness()));
});

describe('MemoryLimitStore sliding window', () => {
  it('never admits more than the limit within any window-long span (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 30_000 }), { minLength: 1, maxLength: 60 }),
        async (limit, gaps) => {
          let now = 0;
          const store = new MemoryLimitStore(() => now);
          const times: number[] = [];
          for (const gap of gaps) {
            now += gap;
            const r = await store.check({
              subjects: [{ subject: 'key:k', limits: { requestsPerMinute: limit } }],
              estimatedTokens: 0,
              slotId: randomUUID(),
              leaseMs: 1,
              windowMs: 60_000,
            });
            if (r.allowed) times.push(now);
            else if (!r.allowed) {
              // the promised retry is exactly when the oldest blocking entry leaves
              const inWindow = times.filter((t) => now - t < 60_000);
              expect(inWindow.length).toBe(limit);
              expect(r.retryAfterMs).toBe(inWindow[0] + 60_000 - now);
            }
          }
          for (let i = limit; i < times.length; i++) {
            expect(times[i] - times[i - limit]).toBeGreaterThanOrEqual(60_000);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('MemoryLimitStore at volume', () => {
  it('matches a reference sliding log over thousands of requests and charges (log compaction included)', async () => {
    let now = 0;
    const store = new MemoryLimitStore(() => now);
    const windowMs = 60_000;
    const rpm = 1_500;
    const tpm = 40_000;
    const admitted: Array<{ ts: number; tokens: number }> = [];
    for (let i = 0; i < 6_000; i++) {
      now += 17;
      const estimate = 5 + (i % 23);
      const slotId = `slot-${i}`;
      const live = admitted.filter((a) => now - a.ts < windowMs);
      const liveTokens = live.reduce((n, a) => n + a.tokens, 0);
      const expected = live.length + 1 <= rpm && liveTokens + estimate <= tpm;
      const r = await store.check({
        subjects: [
          { subject: 'key:volume', limits: { requestsPerMinute: rpm, tokensPerMinute: tpm } },
        ],
        estimatedTokens: estimate,
        slotId,
        leaseMs: 1,
        windowMs,
      });
      expect(r.allowed).toBe(expected);
      if (!r.allowed) continue;
      const entry = { ts: now, tokens: estimate };
      admitted.push(entry);
      expect(r.states.map((st) => st.remaining)).toEqual([
        rpm - live.length - 1,
        tpm - liveTokens - estimate,
      ]);
      // every third call settles below its estimate, edited in place by its charge id
      if (i % 3 === 0) {
        await store.adjustTokens('key:volume', -2, windowMs, slotId);
        entry.tokens -= 2;
      }
    }
    // both outcomes were exercised, well past the 1,024-entry compaction point
    expect(admitted.length).toBeGreaterThanOrEqual(3_000);
    expect(admitted.length).toBeLessThan(6_000);
  });

  it('indexes a check once for all its subjects and forgets it once its charges have left the window', async () => {
    let now = 0;
    const store = new MemoryLimitStore(() => now);
    const index = (store as unknown as { charges: Map<string, unknown> }).charges;
    const subjects = (['key:k', 'user:u', 'account:a'] as const).map((subject) => ({
      subject,
      limits: { tokensPerMinute: 1_000 },
    }));
    const check = (slotId: string, estimatedTokens: number) =>
      store.check({ subjects, estimatedTokens, slotId, leaseMs: 1, windowMs: 60_000 });
    for (let i = 0; i < 100; i++) {
      now += 100;
      expect((await check(`s${i}`, 5)).allowed).toBe(true);
    }
    expect(index.size).toBe(100);
    // the one id corrects each subject's own charge in place
    for (const { subject } of subjects) await store.adjustTokens(subject, -5, 60_000, 's0');
    await store.adjustTokens('user:u', 3, 60_000, 's1');
    const r = await check('s100', 10);
    expect(r.states.map((st) => st.remaining)).toEqual([495, 492, 495]);
    // a window later every charge is out: the index keeps only the new one
    now += 60_000 + 200;
    const late = await check('late', 1);
    expect(late.states.map((st) => st.remaining)).toEqual([999, 999, 999]);
    expect([...index.keys()]).toEqual(['late']);
    // a correction that comes after its charge left the window takes from what is there
    await store.adjustTokens('key:k', -1, 60_000, 's5');
    expect((await check('next', 0)).states[0].remaining).toBe(1_000);
  });

  it('frees expired leases even when most checks skip the lease scan', async () => {
    let now = 0;
    const store = new MemoryLimitStore(() => now);
    const check = (slotId: string) =>
      store.check({
        subjects: [{ subject: 'user:u', limits: { concurrentStreams: 2 } }],
        estimatedTokens: 0,
        slotId,
        leaseMs: 1_000,
        windowMs: 60_000,
      });
    expect((await check('a')).allowed).toBe(true);
    now = 500;
    expect((await check('b')).allowed).toBe(true);
    expect(await store.renew('a', 2_000)).toBe(true); // a now lives until 2500
    now = 1_200; // b (expiry 1500) still live, a renewed
    expect((await check('c')).allowed).toBe(false);
    now = 1_500; // b expired
    expect((await check('c')).allowed).toBe(true);
    expect((await check('d')).allowed).toBe(false);
    now = 2_500; // a (renewed) and c both expire at 2500
    expect((await check('d')).allowed).toBe(true);
  });
});
