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
