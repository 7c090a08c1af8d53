import fc from 'fast-check';
import { mostConstrained, rateLimitHeaders } from './rate-limit.headers';
import type { LimitState } from './rate-limit.types';

// RFC 9651 list of one item: sf-string followed by ;key=integer / ;key=sf-string parameters
const SF_ITEM = /^"[a-z-]+"(;[a-z][a-z0-9_.*-]*=(\d{1,15}|"[a-z-]*"))+$/;

const state = fc.record({
  subject: fc.constantFrom('key:k', 'user:u', 'account:a'),
  limit: fc.constantFrom('requestsPerMinute', 'tokensPerMinute', 'concurrentStreams'),
  max: fc.integer({ min: 0, max: 10_000_000 }),
  remaining: fc.integer({ min: 0, max: 10_000_000 }),
  resetMs: fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: undefined }),
});

describe('rateLimitHeaders', () => {
  it('always produces well-formed structured-field items and a positive Retry-After', () => {
    fc.assert(
      fc.property(
        state,
        fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
        (s, retry) => {
          const h = rateLimitHeaders(s, 60_000, retry);
          expect(h['RateLimit-Policy']).toMatch(SF_ITEM);
          expect(h['RateLimit']).toMatch(SF_ITEM);
          if (retry === undefined) expect(h['Retry-After']).toBeUndefined();
          else expect(Number(h['Retry-After'])).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });

  it('picks the limit with the smallest remaining share', () => {
    const states: LimitState[] = [
      { subject: 'key:k', limit: 'requestsPerMinute', max: 100, remaining: 50 },
      { subject: 'user:u', limit: 'tokensPerMinute', max: 1000, remaining: 100 },
      { subject: 'account:a', limit: 'concurrentStreams', max: 10, remaining: 2 },
    ];
    expect(mostConstrained(states)).toBe(states[1]);
    expect(mostConstrained([])).toBeUndefined();
  });

  it('never names the subject id in a header', () => {
    const h = rateLimitHeaders(
      { subject: 'key:secret-id', limit: 'requestsPerMinute', max: 1, remaining: 0, resetMs: 10 },
      60_000,
    );
    expect(JSON.stringify(h)).not.toContain('secret-id');
  });
});
