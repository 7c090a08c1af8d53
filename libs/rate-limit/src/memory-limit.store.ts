import type { Clock, LimitStore } from './limit-store.port';
import {
  LIMIT_NAMES,
  type LimitName,
  type LimitState,
  type StoreCheckInput,
  type StoreCheckResult,
  type Subject,
} from './rate-limit.types';

interface LogEntry {
  ts: number;
  id: string;
  weight: number;
}

interface SubjectState {
  /** request timestamps, oldest first */
  requests: number[];
  /** token charges, oldest first */
  tokens: LogEntry[];
  tokenSum: number;
  /** slotId -> lease expiry (ms) */
  streams: Map<string, number>;
  /** last time anything was written, for sweeping idle subjects */
  touched: number;
}

interface Verdict {
  limit: LimitName;
  max: number;
  current: number;
  ok: boolean;
  retryMs: number;
}

/** Retry hint for a full concurrency limit: streams end at unpredictable times. */
export const CONCURRENCY_RETRY_MS = 1_000;

/** sweep idle subjects every this many operations, so memory follows active subjects only */
const SWEEP_EVERY = 1_000;

/**
 * Single-process limit store. Node runs each call to completion on one thread,
 * so check-then-charge is atomic without locks.
 *
 * Requests and tokens use a sliding log: an entry counts while
 * `now - ts < windowMs`, so a limit of N per minute admits at most N in any
 * 60 s span (no fixed-window boundary burst). Streams are a set of leases.
 */
export class MemoryLimitStore implements LimitStore {
  readonly backend = 'memory' as const;
  private readonly subjects = new Map<Subject, SubjectState>();
  /** slotId -> subjects holding it */
  private readonly slots = new Map<string, Subject[]>();
  private ops = 0;
  private longestWindowMs = 60_000;

  constructor(private readonly clock: Clock = Date.now) {}

  check(input: StoreCheckInput): Promise<StoreCheckResult> {
    return Promise.resolve(this.checkSync(input));
  }

  adjustTokens(
    subject: Subject,
    delta: number,
    windowMs: number,
    chargeId?: string,
  ): Promise<void> {
    const now = this.clock();
    const s = this.state(subject, now);
    this.prune(s, now, windowMs);
    const d = Math.trunc(delta);
    const charge = chargeId === undefined ? undefined : s.tokens.find((e) => e.id === chargeId);
    if (charge) {
      const next = Math.max(0, charge.weight + d);
      s.tokenSum += next - charge.weight;
      charge.weight = next;
    } else if (d > 0) {
      s.tokens.push({ ts: now, id: `adj:${now}`, weight: d });
      s.tokenSum += d;
    } else if (d < 0) {
      // Taking a refund from the oldest charges is conservative: they leave the
      // window no later than the unknown original charge would have.
      let left = -d;
      for (const e of s.tokens) {
        if (left === 0) break;
        const take = Math.min(left, e.weight);
        e.weight -= take;
        s.tokenSum -= take;
        left -= take;
      }
    }
    s.touched = now;
    return Promise.resolve();
  }

  release(slotId: string): Promise<void> {
    const holders = this.slots.get(slotId);
    if (holders) {
      for (const subject of holders) this.subjects.get(subject)?.streams.delete(slotId);
      this.slots.delete(slotId);
    }
    return Promise.resolve();
  }

  renew(slotId: string, leaseMs: number): Promise<boolean> {
    const now = this.clock();
    const holders = this.slots.get(slotId);
    if (!holders) return Promise.resolve(false);
    let live = false;
    for (const subject of holders) {
      const streams = this.subjects.get(subject)?.streams;
      const exp = streams?.get(slotId);
      if (streams && exp !== undefined && exp > now) {
        streams.set(slotId, now + leaseMs);
        live = true;
      }
    }
    if (!live) this.slots.delete(slotId);
    return Promise.resolve(live);
  }

  private checkSync(input: StoreCheckInput): StoreCheckResult {
    const now = this.clock();
    const { windowMs, slotId, leaseMs } = input;
    const estimate = Math.max(0, Math.ceil(input.estimatedTokens));
    this.longestWindowMs = Math.max(this.longestWindowMs, windowMs);
    this.maybeSweep(now);

    const verdicts: Array<{ subject: Subject; state: SubjectState; v: Verdict }> = [];
    let failed: { subject: Subject; v: Verdict } | undefined;
    for (const { subject, limits } of input.subjects) {
      const s = this.state(subject, now);
      this.prune(s, now, windowMs);
      for (const limit of LIMIT_NAMES) {
        const max = limits[limit];
        if (max === undefined) continue;
        const v = this.evaluate(s, limit, max, now, windowMs, estimate, slotId);
        verdicts.push({ subject, state: s, v });
        if (!v.ok && !failed) failed = { subject, v };
      }
    }

    if (failed) {
      return {
        allowed: false,
        states: verdicts.map(({ subject, state, v }) =>
          this.describe(subject, state, v, now, windowMs, 0),
        ),
        failed: { subject: failed.subject, limit: failed.v.limit },
        retryAfterMs: failed.v.retryMs,
      };
    }

    const holders: Subject[] = [];
    for (const { subject, state, v } of verdicts) {
      state.touched = now;
      switch (v.limit) {
        case 'requestsPerMinute':
          state.requests.push(now);
          break;
        case 'tokensPerMinute': {
          const existing = state.tokens.find((e) => e.id === slotId);
          if (existing) {
            existing.weight += estimate;
          } else {
            state.tokens.push({ ts: now, id: slotId, weight: estimate });
          }
          state.tokenSum += estimate;
          break;
        }
        case 'concurrentStreams':
          state.streams.set(slotId, now + leaseMs);
          holders.push(subject);
          break;
      }
    }
    if (holders.length > 0) {
      const prev = this.slots.get(slotId) ?? [];
      this.slots.set(slotId, [...new Set([...prev, ...holders])]);
    }
    return {
      allowed: true,
      states: verdicts.map(({ subject, state, v }) =>
        this.describe(subject, state, v, now, windowMs, 1, estimate),
      ),
    };
  }

  private evaluate(
    s: SubjectState,
    limit: LimitName,
    max: number,
    now: number,
    windowMs: number,
    estimate: number,
    slotId: string,
  ): Verdict {
    switch (limit) {
      case 'requestsPerMinute': {
        const current = s.requests.length;
        if (current + 1 <= max) return { limit, max, current, ok: true, retryMs: 0 };
        // the request fits once `current - max + 1` of the oldest entries have left
        const retryMs = max === 0 ? windowMs : s.requests[current - max] + windowMs - now;
        return { limit, max, current, ok: false, retryMs };
      }
      case 'tokensPerMinute': {
        const current = s.tokenSum;
        const need = Math.max(estimate, 1);
        if (current + need <= max) return { limit, max, current, ok: true, retryMs: 0 };
        if (need > max) return { limit, max, current, ok: false, retryMs: windowMs };
        let freed = 0;
        let retryMs = windowMs;
        for (const e of s.tokens) {
          freed += e.weight;
          if (current - freed + need <= max) {
            retryMs = e.ts + windowMs - now;
            break;
          }
        }
        return { limit, max, current, ok: false, retryMs };
      }
      case 'concurrentStreams': {
        const current = s.streams.size - (s.streams.has(slotId) ? 1 : 0);
        const ok = current + 1 <= max;
        return { limit, max, current, ok, retryMs: ok ? 0 : CONCURRENCY_RETRY_MS };
      }
    }
  }

  private describe(
    subject: Subject,
    s: SubjectState,
    v: Verdict,
    now: number,
    windowMs: number,
    admitted: 0 | 1,
    estimate = 0,
  ): LimitState {
    switch (v.limit) {
      case 'requestsPerMinute': {
        const oldest = s.requests[0];
        return {
          subject,
          limit: v.limit,
          max: v.max,
          remaining: Math.max(0, v.max - v.current - admitted),
          resetMs: oldest === undefined ? windowMs : oldest + windowMs - now,
        };
      }
      case 'tokensPerMinute': {
        const oldest = s.tokens[0]?.ts;
        return {
          subject,
          limit: v.limit,
          max: v.max,
          remaining: Math.max(0, v.max - v.current - admitted * estimate),
          resetMs: oldest === undefined ? windowMs : oldest + windowMs - now,
        };
      }
      case 'concurrentStreams':
        return {
          subject,
          limit: v.limit,
          max: v.max,
          remaining: Math.max(0, v.max - v.current - admitted),
        };
    }
  }

  private state(subject: Subject, now: number): SubjectState {
    let s = this.subjects.get(subject);
    if (!s) {
      s = { requests: [], tokens: [], tokenSum: 0, streams: new Map(), touched: now };
      this.subjects.set(subject, s);
    }
    return s;
  }

  private prune(s: SubjectState, now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    let i = 0;
    while (i < s.requests.length && s.requests[i] <= cutoff) i++;
    if (i > 0) s.requests.splice(0, i);
    let j = 0;
    while (j < s.tokens.length && s.tokens[j].ts <= cutoff) {
      s.tokenSum -= s.tokens[j].weight;
      j++;
    }
    if (j > 0) s.tokens.splice(0, j);
    for (const [slot, exp] of s.streams) {
      if (exp <= now) s.streams.delete(slot);
    }
  }

  private maybeSweep(now: number): void {
    if (++this.ops % SWEEP_EVERY !== 0) return;
    for (const [subject, s] of this.subjects) {
      this.prune(s, now, this.longestWindowMs);
      if (s.requests.length === 0 && s.tokens.length === 0 && s.streams.size === 0) {
        this.subjects.delete(subject);
      }
    }
    for (const [slot, holders] of this.slots) {
      if (!holders.some((h) => this.subjects.get(h)?.streams.has(slot))) this.slots.delete(slot);
    }
  }
}
