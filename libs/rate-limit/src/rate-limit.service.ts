import { Logger } from '@nestjs/common';
import type { LimitStore } from './limit-store.port';
import {
  mostConstrained,
  rateLimitHeaders,
  toSeconds,
  type RateLimitHeaders,
} from './rate-limit.headers';
import {
  LIMIT_NAMES,
  type LimitName,
  type StoreCheckInput,
  type StoreCheckResult,
  type SubjectCheck,
  type SubjectLimits,
  type Subject,
} from './rate-limit.types';

export interface RateLimitServiceOptions {
  /**
   * On a store error (Redis down or slow): true admits the request (and logs),
   * false refuses it with `reason: 'unavailable'` (the caller answers 503).
   * Default true: a broken limiter should not take the gateway down with it.
   */
  failOpen?: boolean;
  /** sliding window of the per-minute limits; 60 000 except in tests */
  windowMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

export interface RateLimitCheck {
  subjects: SubjectCheck[];
  estimatedTokens: number;
  /** unique per request: later passed to release/renew/adjustTokens */
  slotId: string;
  /** lease of the concurrency slot; renew it while the stream runs */
  leaseMs: number;
}

export type RateLimitDecision =
  | {
      allowed: true;
      headers: RateLimitHeaders;
      /** admitted without a working store */ degraded?: true;
    }
  | {
      allowed: false;
      reason: 'rate_limited';
      retryAfterSeconds: number;
      limit: LimitName;
      subject: Subject;
      headers: RateLimitHeaders;
    }
  | { allowed: false; reason: 'unavailable'; headers: RateLimitHeaders };

export interface RateLimitDescription {
  backend: 'memory' | 'redis';
  failOpen: boolean;
}

/**
 * Admission control for requests, tokens and concurrent streams per key, user
 * and account. All subjects and limits are decided in one atomic store call.
 */
export class RateLimitService {
  private readonly failOpen: boolean;
  /** the sliding window of the per-minute limits */
  readonly windowMs: number;
  private readonly logger: Pick<Logger, 'warn'>;

  constructor(
    private readonly store: LimitStore,
    opts: RateLimitServiceOptions = {},
  ) {
    this.failOpen = opts.failOpen ?? true;
    this.windowMs = opts.windowMs ?? 60_000;
    this.logger = opts.logger ?? new Logger('RateLimit');
  }

  describe(): RateLimitDescription {
    return { backend: this.store.backend, failOpen: this.failOpen };
  }

  async check(req: RateLimitCheck): Promise<RateLimitDecision> {
    const input = this.prepare(req);
    if (!input) return { allowed: true, headers: {} };
    try {
      return this.decide(await this.store.check(input));
    } catch (err) {
      return this.failed(err);
    }
  }

  /**
   * What the store is asked for `req` (validated, subjects merged), or
   * undefined when no subject has a limit: for a caller that runs the store's
   * check itself (admission in one round trip) and then calls `decide`.
   */
  prepare(req: RateLimitCheck): StoreCheckInput | undefined {
    const subjects = normalise(req.subjects);
    if (subjects.length === 0) return undefined;
    return {
      subjects,
      estimatedTokens: Math.max(0, Math.ceil(req.estimatedTokens)),
      slotId: req.slotId,
      leaseMs: Math.max(1, Math.ceil(req.leaseMs)),
      windowMs: this.windowMs,
    };
  }

  /** the decision, with its headers, for what the store answered */
  decide(r: StoreCheckResult): RateLimitDecision {
    if (r.allowed) {
      return {
        allowed: true,
        headers: rateLimitHeaders(mostConstrained(r.states), this.windowMs),
      };
    }
    const failed = r.states.find(
      (s) => s.subject === r.failed.subject && s.limit === r.failed.limit,
    );
    const retryAfterMs = Math.max(1_000, r.retryAfterMs);
    return {
      allowed: false,
      reason: 'rate_limited',
      retryAfterSeconds: toSeconds(retryAfterMs),
      limit: r.failed.limit,
      subject: r.failed.subject,
      headers: rateLimitHeaders(failed, this.windowMs, retryAfterMs),
    };
  }

  /** the failure policy, applied to a store error */
  failed(err: unknown): RateLimitDecision {
    this.logger.warn(
      `rate-limit store (${this.store.backend}) failed, ${this.failOpen ? 'admitting' : 'refusing'}: ${message(err)}`,
    );
    if (this.failOpen) return { allowed: true, headers: {}, degraded: true };
    return { allowed: false, reason: 'unavailable', headers: {} };
  }

  /**
   * Corrects the token charge with actual usage (delta = actual - estimate).
   * Pass the request's slotId as `chargeId` to edit the original charge.
   * Never throws: a failed correction only skews one window.
   */
  async adjustTokens(subject: Subject, delta: number, chargeId?: string): Promise<void> {
    if (!Number.isFinite(delta) || Math.trunc(delta) === 0) return;
    try {
      await this.store.adjustTokens(subject, Math.trunc(delta), this.windowMs, chargeId);
    } catch (err) {
      this.logger.warn(`rate-limit token adjustment failed: ${message(err)}`);
    }
  }

  /** frees the stream slot; idempotent, never throws (the lease expires anyway) */
  async release(slotId: string): Promise<void> {
    try {
      await this.store.release(slotId);
    } catch (err) {
      this.logger.warn(`rate-limit release failed (lease will expire): ${message(err)}`);
    }
  }

  /**
   * Keeps a long stream's slot alive. A lease that lapsed before this renewal
   * (an event loop stalled past it) is taken back on the subjects that hold
   * concurrency limits, so the stream counts again from now on. Returns false
   * when the lease had lapsed or the store failed. Never throws.
   */
  async renew(
    slotId: string,
    leaseMs: number,
    subjects: readonly SubjectCheck[] = [],
  ): Promise<boolean> {
    const lease = Math.max(1, Math.ceil(leaseMs));
    try {
      if (await this.store.renew(slotId, lease)) return true;
      const holders = normalise(subjects)
        .filter((s) => s.limits.concurrentStreams !== undefined)
        .map((s) => s.subject);
      if (holders.length > 0) {
        await this.store.retake(slotId, lease, holders);
        this.logger.warn(`rate-limit slot ${slotId} lapsed before its renewal and was taken back`);
      }
      return false;
    } catch (err) {
      this.logger.warn(`rate-limit lease renewal failed: ${message(err)}`);
      return false;
    }
  }
}

/**
 * Drops subjects without limits, validates numbers and merges duplicates
 * (the stricter limit wins), so the stores see clean input.
 */
function normalise(subjects: readonly SubjectCheck[]): SubjectCheck[] {
  // a handful of subjects per request: a list beats a Map and its copies here
  const merged: SubjectCheck[] = [];
  for (const { subject, limits } of subjects) {
    let entry = merged.find((s) => s.subject === subject);
    if (!entry) merged.push((entry = { subject, limits: {} }));
    const into = entry.limits;
    for (const name of LIMIT_NAMES) {
      const v = limits[name];
      if (v === undefined || v === null) continue;
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} for ${subject} must be >= 0`);
      const n = Math.floor(v);
      into[name] = into[name] === undefined ? n : Math.min(into[name], n);
    }
  }
  return merged.filter((s) => LIMIT_NAMES.some((name) => s.limits[name] !== undefined));
}

/**
 * Layers limit settings: later layers override earlier ones field by field,
 * e.g. `mergeLimits(configDefaults, account.limits, key.limits)`.
 */
export function mergeLimits(...layers: Array<SubjectLimits | null | undefined>): SubjectLimits {
  const out: SubjectLimits = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const name of LIMIT_NAMES) {
      const v = layer[name];
      if (v !== undefined && v !== null) out[name] = v;
    }
  }
  return out;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
