import fc from 'fast-check';
import { backoffMs, CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast during the cooldown, then allows one trial', () => {
    let now = 0;
    const b = new CircuitBreaker(3, 1000, () => now);
    for (let i = 0; i < 3; i++) {
      expect(b.allow('bedrock')).toBe(true);
      b.failure('bedrock');
    }
    expect(b.allow('bedrock')).toBe(false);
    expect(b.allow('openai')).toBe(true);
    now = 1001;
    expect(b.allow('bedrock')).toBe(true); // the half-open trial
    expect(b.allow('bedrock')).toBe(false); // only one
    b.success('bedrock');
    expect(b.allow('bedrock')).toBe(true);
  });

  it('re-opens when the trial fails', () => {
    let now = 0;
    const b = new CircuitBreaker(1, 100, () => now);
    b.failure('x');
    now = 150;
    expect(b.allow('x')).toBe(true);
    b.failure('x');
    expect(b.allow('x')).toBe(false);
  });
});

describe('backoffMs', () => {
  it('never waits less than Retry-After and never more than the cap without one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, ra, r) => {
          const ms = backoffMs(n, ra, () => r);
          if (ra !== undefined && ms < ra * 1000) return false;
          return ra !== undefined || ms <= 8000;
        },
      ),
    );
  });
});
