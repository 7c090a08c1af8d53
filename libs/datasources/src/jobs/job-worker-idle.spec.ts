import { idleWait } from './job-worker';

describe('job worker idle backoff', () => {
  it('doubles the wait while polls find nothing, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => idleWait(1000, 30_000, n))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('never backs off when the cap is the poll interval (the default)', () => {
    expect([1, 5, 100].map((n) => idleWait(1000, 1000, n))).toEqual([1000, 1000, 1000]);
  });

  it('stays finite after very long idle streaks', () => {
    expect(idleWait(1000, 3_600_000, 10_000)).toBe(3_600_000);
  });
});
