import type { LimitName, LimitState } from './rate-limit.types';

/**
 * Response headers of draft-ietf-httpapi-ratelimit-headers (-10/-11):
 *   RateLimit-Policy: "<name>";q=<quota>;w=<window s>[;qu="concurrent-requests"]
 *   RateLimit:        "<name>";r=<remaining>[;t=<s until quota returns>]
 * Both are Structured Field Lists; we send one item, the most constrained limit.
 * Token quotas have no registered quota unit, so they carry the vendor
 * parameter `sb-unit="tokens"` (the draft asks for vendor-prefixed extensions).
 * https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 */
export type RateLimitHeaders = Record<string, string>;

const SHORT: Record<LimitName, string> = {
  requestsPerMinute: 'requests',
  tokensPerMinute: 'tokens',
  concurrentStreams: 'streams',
};

/** `key:abc` + tokensPerMinute -> `key-tokens`: names the policy, never the id */
export function policyName(state: Pick<LimitState, 'subject' | 'limit'>): string {
  const kind = state.subject.slice(0, state.subject.indexOf(':'));
  return `${kind}-${SHORT[state.limit]}`;
}

/** the limit closest to exhaustion (lowest remaining share; ties: first) */
export function mostConstrained(states: readonly LimitState[]): LimitState | undefined {
  let best: LimitState | undefined;
  let bestShare = Infinity;
  for (const s of states) {
    const share = s.max === 0 ? 0 : s.remaining / s.max;
    if (share < bestShare) {
      best = s;
      bestShare = share;
    }
  }
  return best;
}

export function toSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function rateLimitHeaders(
  state: LimitState | undefined,
  windowMs: number,
  retryAfterMs?: number,
): RateLimitHeaders {
  const headers: RateLimitHeaders = {};
  if (state) {
    const name = `"${policyName(state)}"`;
    let policy = `${name};q=${state.max}`;
    let current = `${name};r=${state.remaining}`;
    if (state.limit === 'concurrentStreams') {
      policy += ';qu="concurrent-requests"';
    } else {
      policy += `;w=${Math.max(1, Math.round(windowMs / 1000))}`;
      if (state.limit === 'tokensPerMinute') policy += ';sb-unit="tokens"';
    }
    const resetMs = retryAfterMs ?? state.resetMs;
    if (resetMs !== undefined) current += `;t=${toSeconds(resetMs)}`;
    headers['RateLimit-Policy'] = policy;
    headers['RateLimit'] = current;
  }
  if (retryAfterMs !== undefined)
    headers['Retry-After'] = String(Math.max(1, toSeconds(retryAfterMs)));
  return headers;
}
