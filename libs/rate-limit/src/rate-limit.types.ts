/** A rate-limited party: an API key, a user or an account (cost centre). */
export type Subject = `key:${string}` | `user:${string}` | `account:${string}`;

export type SubjectKind = 'key' | 'user' | 'account';

export function subjectOf(kind: SubjectKind, id: string): Subject {
  return `${kind}:${id}`;
}

/** The limits a subject is held to; an absent field is not enforced. */
export interface SubjectLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  concurrentStreams?: number;
}

export type LimitName = keyof SubjectLimits;

/** Evaluation order inside one subject; the stores and the headers share it. */
export const LIMIT_NAMES: readonly LimitName[] = [
  'requestsPerMinute',
  'tokensPerMinute',
  'concurrentStreams',
];

export interface SubjectCheck {
  subject: Subject;
  limits: SubjectLimits;
}

/** Input of one admission decision at the store level. */
export interface StoreCheckInput {
  subjects: SubjectCheck[];
  /** tokens charged up front against tokensPerMinute; corrected later via adjustTokens */
  estimatedTokens: number;
  /**
   * Unique per request. Names the concurrency slot (for release/renew) and the
   * token charge (for adjustTokens).
   */
  slotId: string;
  /** how long the concurrency slot survives without renew/release (replica death) */
  leaseMs: number;
  /** sliding window length for the per-minute limits (60 000 in production) */
  windowMs: number;
}

/** The state of one enforced limit, as seen by this decision. */
export interface LimitState {
  subject: Subject;
  limit: LimitName;
  max: number;
  /** quota left after this decision (0 when exhausted) */
  remaining: number;
  /**
   * ms until quota starts coming back (the oldest entry leaves the window);
   * undefined for concurrency, which has no window
   */
  resetMs?: number;
}

export type StoreCheckResult =
  | { allowed: true; states: LimitState[] }
  | {
      allowed: false;
      states: LimitState[];
      /** the first limit (in subject, then LIMIT_NAMES order) that refused */
      failed: { subject: Subject; limit: LimitName };
      retryAfterMs: number;
    };
