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

/**
 * A FIFO over an array with a moving head: pushing and dropping the oldest
 * are O(1) amortised (the array is compacted once the dead prefix is at least
 * half of it), where `splice(0, n)` would move every live entry on each prune.
 */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** the i-th oldest live entry */
  at(i: number): T | undefined {
    return i < 0 || i >= this.size ? undefined : this.#items[this.#head + i];
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** drops the oldest entries while `old(entry)` holds, handing each to `dropped` */
  dropWhile(old: (item: T) => boolean, dropped?: (item: T) => void): void {
    const items = this.#items;
    let h = this.#head;
    while (h < items.length && old(items[h])) {
      dropped?.(items[h]);
      h++;
    }
    if (h === this.#head) return;
    if (h === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (h >= 1024 && h * 2 >= items.length) {
      this.#items = items.slice(h);
      this.#head = 0;
    } else this.#head = h;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i];
  }
}

interface SubjectState {
  /** request timestamps, oldest first */
  requests: Fifo<number>;
  /** token charges, oldest first */
  tokens: Fifo<LogEntry>;
  /** live token charges by id (the slotId of the check that made them) */
  chargeById: Map<string, LogEntry>;
  tokenSum: number;
  /** slotId -> lease expiry (ms) */
  streams: Map<string, number>;
  /** no lease expires before this (a lower bound), so most checks skip the scan */
  streamsExpireFrom: number;
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
    const charge = chargeId === undefined ? undefined : s.chargeById.get(chargeId);
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

  retake(slotId: string, leaseMs: number, holders: readonly Subject[]): Promise<void> {
    if (holders.length === 0) return Promise.resolve();
    const now = this.clock();
    for (const subject of holders) {
      const s = this.state(subject, now);
      s.streams.set(slotId, now + leaseMs);
      s.streamsExpireFrom = Math.min(s.streamsExpireFrom, now + leaseMs);
      s.touched = now;
    }
    this.slots.set(slotId, [...new Set(holders)]);
    return Promise.resolve();
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
          const existing = state.chargeById.get(slotId);
          if (existing) {
            existing.weight += estimate;
          } else {
            const charge = { ts: now, id: slotId, weight: estimate };
            state.tokens.push(charge);
            state.chargeById.set(slotId, charge);
          }
          state.tokenSum += estimate;
          break;
        }
        case 'concurrentStreams':
          state.streams.set(slotId, now + leaseMs);
          state.streamsExpireFrom = Math.min(state.streamsExpireFrom, now + leaseMs);
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
        const current = s.requests.size;
        if (current + 1 <= max) return { limit, max, current, ok: true, retryMs: 0 };
        // the request fits once `current - max + 1` of the oldest entries have left
        const retryMs = max === 0 ? windowMs : s.requests.at(current - max)! + windowMs - now;
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
        const oldest = s.requests.at(0);
        return {
          subject,
          limit: v.limit,
          max: v.max,
          remaining: Math.max(0, v.max - v.current - admitted),
          resetMs: oldest === undefined ? windowMs : oldest + windowMs - now,
        };
      }
      case 'tokensPerMinute': {
        const oldest = s.tokens.at(0)?.ts;
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
      s = {
        requests: new Fifo(),
        tokens: new Fifo(),
        chargeById: new Map(),
        tokenSum: 0,
        streams: new Map(),
        streamsExpireFrom: Infinity,
        touched: now,
      };
      this.subjects.set(subject, s);
    }
    return s;
  }

  private prune(s: SubjectState, now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    s.requests.dropWhile((ts) => ts <= cutoff);
    s.tokens.dropWhile(
      (e) => e.ts <= cutoff,
      (e) => {
        s.tokenSum -= e.weight;
        if (s.chargeById.get(e.id) === e) s.chargeById.delete(e.id);
      },
    );
    if (now < s.streamsExpireFrom) return;
    let next = Infinity;
    for (const [slot, exp] of s.streams) {
      if (exp <= now) s.streams.delete(slot);
      else if (exp < next) next = exp;
    }
    s.streamsExpireFrom = next;
  }

  private maybeSweep(now: number): void {
    if (++this.ops % SWEEP_EVERY !== 0) return;
    for (const [subject, s] of this.subjects) {
      this.prune(s, now, this.longestWindowMs);
      if (s.requests.size === 0 && s.tokens.size === 0 && s.streams.size === 0) {
        this.subjects.delete(subject);
      }
    }
    for (const [slot, holders] of this.slots) {
      if (!holders.some((h) => this.subjects.get(h)?.streams.has(slot))) this.slots.delete(slot);
    }
  }
}
