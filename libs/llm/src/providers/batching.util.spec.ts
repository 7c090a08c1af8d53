import fc from 'fast-check';
import { batches, mapBounded } from './batching.util';

describe('batches', () => {
  it('splits into consecutive batches of at most `size` that concatenate back to the input', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer({ min: 1, max: 200 }), (items, size) => {
        const out = batches(items, size);
        expect(out.flat()).toEqual(items);
        expect(out.every((b) => b.length >= 1 && b.length <= size)).toBe(true);
        expect(out.length).toBe(Math.ceil(items.length / size));
      }),
    );
  });
});

describe('mapBounded', () => {
  it('keeps input order and never has more than `limit` calls in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 3 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        async (delays, limit) => {
          let inFlight = 0;
          let peak = 0;
          const out = await mapBounded(delays, limit, async (d, i) => {
            peak = Math.max(peak, ++inFlight);
            await new Promise((r) => setTimeout(r, d));
            inFlight--;
            return i * 2;
          });
          expect(out).toEqual(delays.map((_, i) => i * 2));
          expect(peak).toBeLessThanOrEqual(limit);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('starts no new call after a failure and rethrows it', async () => {
    const started: number[] = [];
    const calls: Array<Promise<unknown>> = [];
    await expect(
      mapBounded([0, 1, 2, 3, 4, 5], 2, (i) => {
        started.push(i);
        const call = Promise.resolve().then(() => {
          if (i === 1) throw new Error('boom');
          return i;
        });
        calls.push(call);
        return call;
      }),
    ).rejects.toThrow('boom');
    // every call that was started has settled: nothing is left to start another
    await Promise.allSettled(calls);
    expect(started).toEqual([0, 1, 2]);
  });
});
