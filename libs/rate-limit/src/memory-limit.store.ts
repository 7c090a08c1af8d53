import type { Clock, LimitStore } from './limit-store.port';
import {
  LIMIT_NAMES,
  type LimitName,
  type LimitState,
  type StoreCheckInput,
  type StoreCheckResult,
  type Subject,
} from './rate-limit.types';

/** dead entries are cut off the front of a log's arrays once they are this many and half of it */
const COMPACT_AT = 1024;

/**
 * The new head of parallel arrays (a log's columns) whose entries before `h` have
 * been dropped: all emptied when none is left, the dead cut off in place once they
 * are many and half of the arrays, else only the head moves. The arrays lose
 * `h - newHead` entries from their front.
 */
function advanceHead(columns: ReadonlyArray<unknown[]>, h: number): number {
  const length = columns[0].length;
  if (h === length) {
    for (const c of columns) c.length = 0;
    return 0;
  }
  if (h >= COMPACT_AT && h * 2 >= length) {
    for (const c of columns) {
      c.copyWithin(0, h);
      c.length = length - h;
    }
    return 0;
  }
  return h;
}

/**
 * Request timestamps, oldest first, as runs of equal timestamps (a burst in one
 * millisecond is one entry) over arrays with a moving head: pushing and dropping
 * the oldest are O(1) amortised and no object is made per request.
 */
class RequestLog {
  readonly #ts: number[] = [];
  readonly #n: number[] = [];
  #head = 0;
  /** requests in the log */
  size = 0;

  push(ts: number): void {
    const last = this.#ts.length - 1;
    if (last >= this.#head && this.#ts[last] === ts) this.#n[last]++;
    else {
      this.#ts.push(ts);
      this.#n.push(1);
    }
    this.size++;
  }

  /** the timestamp of the i-th oldest request */
  at(i: number): number | undefined {
    if (i < 0 || i >= this.size) return undefined;
    for (let j = this.#head; ; j++) {
      if (i < this.#n[j]) return this.#ts[j];
      i -= this.#n[j];
    }
  }

  /** drops the requests at or before `cutoff` (from the oldest, as far as they go) */
  dropUntil(cutoff: number): void {
    const ts = this.#ts;
    let h = this.#head;
    while (h < ts.length && ts[h] <= cutoff) this.size -= this.#n[h++];
    if (h !== this.#head) this.#head = advanceHead([ts, this.#n], h);
  }
}

/**
 * Token charges, oldest first, in parallel arrays with a moving head (no object
 * per charge) and their sum. A charge is known by its absolute position, which
 * stays the same while the arrays are compacted, so it can be corrected in place.
 */
class ChargeLog {
  readonly #ts: number[] = [];
  readonly #weight: number[] = [];
  #head = 0;
  /** the absolute position of the arrays' first element */
  #base = 0;
  /** the weights in the log */
  sum = 0;

  get size(): number {
    return this.#ts.length - this.#head;
  }

  oldestTs(): number | undefined {
    return this.size > 0 ? this.#ts[this.#head] : undefined;
  }

  /** appends a charge; returns its position */
  push(ts: number, weight: number): number {
    const at = this.#base + this.#ts.length;
    this.#ts.push(ts);
    this.#weight.push(weight);
    this.sum += weight;
    return at;
  }

  /** true while the charge at `at` is in the log */
  has(at: number): boolean {
    return at >= this.#base + this.#head && at < this.#base + this.#ts.length;
  }

  /** true if the charge at `at` is in the log and was made after `cutoff` */
  hasAfter(at: number, cutoff: number): boolean {
    return this.has(at) && this.#ts[at - this.#base] > cutoff;
  }

  /** changes the charge at `at` (one the log has) by `delta`, never below zero */
  change(at: number, delta: number): void {
    const i = at - this.#base;
    const next = Math.max(0, this.#weight[i] + delta);
    this.sum += next - this.#weight[i];
    this.#weight[i] = next;
  }

  /** takes `amount` back from the oldest charges (as much as they hold) */
  refundOldest(amount: number): void {
    let left = amount;
    const w = this.#weight;
    for (let i = this.#head; i < w.length && left > 0; i++) {
      const take = Math.min(left, w[i]);
      w[i] -= take;
      this.sum -= take;
      left -= take;
    }
  }

  /** the timestamp of the charge whose leaving frees at least `amount`, if any does */
  freedBy(amount: number): number | undefined {
    let freed = 0;
    for (let i = this.#head; i < this.#ts.length; i++) {
      freed += this.#weight[i];
      if (freed >= amount) return this.#ts[i];
    }
    return undefined;
  }

  /** drops the charges at or before `cutoff` (from the oldest, as far as they go) */
  dropUntil(cutoff: number): void {
    const ts = this.#ts;
    let h = this.#head;
    for (; h < ts.length && ts[h] <= cutoff; h++) this.sum -= this.#weight[h];
    if (h === this.#head) return;
    this.#head = advanceHead([ts, this.#weight], h);
    this.#base += h - this.#head;
  }
}

/** where a check's token charge is: the subject's log and the position in it */
interface ChargeRef {
  log: ChargeLog;
  at: number;
}

/**
 * The slotIds of token charges in the order they were first made (so, by time),
 * to forget each once its charges have left every window. A queue over arrays
 * with a moving head, like the logs.
 */
class ChargeOrder {
  readonly #ts: number[] = [];
  readonly #id: string[] = [];
  #head = 0;

  push(ts: number, id: string): void {
    this.#ts.push(ts);
    this.#id.push(id);
  }

  /** removes and hands over the ids first charged at or before `cutoff` */
  takeUntil(cutoff: number, each: (id: string) => void): void {
    const ts = this.#ts;
    let h = this.#head;
    for (; h < ts.length && ts[h] <= cutoff; h++) each(this.#id[h]);
    if (h !== this.#head) this.#head = advanceHead([ts, this.#id], h);
  }
}

interface SubjectState {
  requests: RequestLog;
  tokens: ChargeLog;
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
  /**
   * slotId -> its token charges, one per subject: one index for the store, so a
   * check costs one map entry however many subjects it charges
   */
  private readonly charges = new Map<string, ChargeRef[]>();
  private readonly chargeOrder = new ChargeOrder();
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
    const at = chargeId === undefined ? undefined : this.chargeOf(chargeId, s.tokens);
    if (at !== undefined) s.tokens.change(at, d);
    else if (d > 0) s.tokens.push(now, d);
    // Taking a refund from the oldest charges is conservative: they leave the
    // window no later than the unknown original charge would have.
    else if (d < 0) s.tokens.refundOldest(-d);
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
    const cutoff = now - this.longestWindowMs;
    this.chargeOrder.takeUntil(cutoff, (id) => this.forget(id, now, cutoff));

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
        case 'tokensPerMinute':
          this.charge(slotId, state.tokens, now, estimate);
          break;
        case 'concurrentStreams':
          state.streams.set(slotId, now + leaseMs);
          state.streamsExpireFrom = Math.min(state.streamsExpireFrom, now + leaseMs);
          holders.push(subject);
          break;
      }
    }
    if (holders.length > 0) {
      const prev = this.slots.get(slotId);
      this.slots.set(slotId, prev ? [...new Set([...prev, ...holders])] : holders);
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
        const current = s.tokens.sum;
        const need = Math.max(estimate, 1);
        if (current + need <= max) return { limit, max, current, ok: true, retryMs: 0 };
        if (need > max) return { limit, max, current, ok: false, retryMs: windowMs };
        // the request fits once the oldest charges worth `current + need - max` have left
        const at = s.tokens.freedBy(current + need - max);
        const retryMs = at === undefined ? windowMs : at + windowMs - now;
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
        const oldest = s.tokens.oldestTs();
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

  /** adds `weight` to the live charge of `slotId` in `log`, or makes it */
  private charge(slotId: string, log: ChargeLog, now: number, weight: number): void {
    const at = this.chargeOf(slotId, log);
    if (at !== undefined) {
      log.change(at, weight);
      return;
    }
    let refs = this.charges.get(slotId);
    if (!refs) {
      refs = [];
      this.charges.set(slotId, refs);
      this.chargeOrder.push(now, slotId);
    }
    refs.push({ log, at: log.push(now, weight) });
  }

  /**
   * Drops the index entry of a slot first charged a whole window ago: its charges
   * are out of every window, whether or not their logs were pruned since. A slot
   * charged again since is looked at again a window later.
   */
  private forget(slotId: string, now: number, cutoff: number): void {
    const refs = this.charges.get(slotId);
    if (!refs) return;
    if (refs.some((r) => r.log.hasAfter(r.at, cutoff))) this.chargeOrder.push(now, slotId);
    else this.charges.delete(slotId);
  }

  /** the position of the live charge of `slotId` in `log`, if it has one */
  private chargeOf(slotId: string, log: ChargeLog): number | undefined {
    const refs = this.charges.get(slotId);
    if (!refs) return undefined;
    for (const r of refs) if (r.log === log && log.has(r.at)) return r.at;
    return undefined;
  }

  private state(subject: Subject, now: number): SubjectState {
    let s = this.subjects.get(subject);
    if (!s) {
      s = {
        requests: new RequestLog(),
        tokens: new ChargeLog(),
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
    s.requests.dropUntil(cutoff);
    s.tokens.dropUntil(cutoff);
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
