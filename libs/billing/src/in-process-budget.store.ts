import type { BudgetPeriod, ScopeType } from './billing.types';
import { HOLD_RECORD_GRACE_MS, SPENT_TTL_MS } from './budget-periods';
import type { BudgetStore, StoreReserve, StoreSettle } from './budget-store.port';
import type { ReserveResult, ScopeUsage } from './budget.types';

interface ScopeHolds {
  holds: Map<string, { amount: number; expiresAt: number }>;
  held: number;
  /** no hold expires before this (a lower bound), so most calls skip the scan */
  expiresFrom: number;
}

interface HoldRecord {
  scopes: Array<{ type: ScopeType; id: string }>;
  expiresAt: number;
}

const PERIODS: BudgetPeriod[] = ['hour', 'day', 'month', 'total'];
const SWEEP_EVERY_MS = 60_000;

/**
 * Single-process budget store (no REDIS_URL). JavaScript runs each method to
 * completion without interleaving, so the check-and-hold is atomic; the
 * arithmetic mirrors the Redis scripts.
 */
export class InProcessBudgetStore implements BudgetStore {
  private readonly scopes = new Map<string, ScopeHolds>();
  /** spend counters: scope key -> bucket -> counter (buckets are shared strings, see bucketsAt) */
  private readonly spent = new Map<string, Map<string, { micros: number; expiresAt: number }>>();
  private readonly records = new Map<string, HoldRecord>();
  private lastSweep = 0;

  /** process memory is only lost with the process, which seeds again at boot */
  isSeeded(): Promise<boolean> {
    return Promise.resolve(true);
  }

  seedStamp(): Promise<string> {
    return Promise.resolve('');
  }

  markSeeded(): Promise<void> {
    return Promise.resolve();
  }

  async restoreHold(req: StoreReserve): Promise<void> {
    await this.reserve({ ...req, scopes: req.scopes.map((s) => ({ ...s, limits: [] })) });
  }

  reserve(req: StoreReserve): Promise<ReserveResult> {
    this.sweep(req.nowMs);
    if (this.records.has(req.holdId)) return Promise.resolve({ ok: true });
    for (const scope of req.scopes) {
      const held = this.prune(scopeKey(scope.type, scope.id), req.nowMs).held;
      for (const limit of scope.limits) {
        const spent = this.spentOf(scope.type, scope.id, req.buckets[limit.period], req.nowMs);
        if (spent + held + req.amountMicros > limit.limitMicros) {
          return Promise.resolve({
            ok: false,
            scope: { type: scope.type, id: scope.id },
            period: limit.period,
            spentMicros: spent,
            heldMicros: held,
            limitMicros: limit.limitMicros,
          });
        }
      }
    }
    for (const scope of req.scopes) {
      const s = this.prune(scopeKey(scope.type, scope.id), req.nowMs);
      s.holds.set(req.holdId, { amount: req.amountMicros, expiresAt: req.expiresAtMs });
      s.held += req.amountMicros;
      s.expiresFrom = Math.min(s.expiresFrom, req.expiresAtMs);
    }
    this.records.set(req.holdId, {
      scopes: req.scopes.map((s) => ({ type: s.type, id: s.id })),
      expiresAt: req.expiresAtMs + HOLD_RECORD_GRACE_MS,
    });
    return Promise.resolve({ ok: true });
  }

  settle(req: StoreSettle): Promise<boolean> {
    this.sweep(req.nowMs);
    const record = this.records.get(req.holdId);
    if (!record) return Promise.resolve(false);
    this.records.delete(req.holdId);
    for (const scope of record.scopes) {
      const key = scopeKey(scope.type, scope.id);
      const s = this.scopes.get(key);
      const hold = s?.holds.get(req.holdId);
      if (s && hold) {
        s.holds.delete(req.holdId);
        s.held -= hold.amount;
      }
      if (req.actualMicros > 0) {
        const counters = this.countersOf(key);
        for (const period of PERIODS) {
          const bucket = req.buckets[period];
          const e = counters.get(bucket);
          const expiresAt = expiry(period, req.nowMs);
          if (e && e.expiresAt > req.nowMs) {
            e.micros += req.actualMicros;
            e.expiresAt = expiresAt;
          } else counters.set(bucket, { micros: req.actualMicros, expiresAt });
        }
      }
    }
    return Promise.resolve(true);
  }

  seedSpent(
    scopeType: ScopeType,
    scopeId: string,
    period: BudgetPeriod,
    bucket: string,
    micros: number,
    now: number,
  ): Promise<void> {
    const cur = this.spentOf(scopeType, scopeId, bucket, now);
    if (micros > cur)
      this.countersOf(scopeKey(scopeType, scopeId)).set(bucket, {
        micros,
        expiresAt: expiry(period, now),
      });
    return Promise.resolve();
  }

  usage(scopeType: ScopeType, scopeId: string, bucket: string, nowMs: number): Promise<ScopeUsage> {
    return Promise.resolve({
      spentMicros: this.spentOf(scopeType, scopeId, bucket, nowMs),
      heldMicros: this.prune(scopeKey(scopeType, scopeId), nowMs).held,
    });
  }

  private spentOf(type: ScopeType, id: string, bucket: string, nowMs: number): number {
    const counters = this.spent.get(scopeKey(type, id));
    const e = counters?.get(bucket);
    if (!e) return 0;
    if (e.expiresAt <= nowMs) {
      counters?.delete(bucket);
      return 0;
    }
    return e.micros;
  }

  private countersOf(key: string): Map<string, { micros: number; expiresAt: number }> {
    let counters = this.spent.get(key);
    if (!counters) {
      counters = new Map<string, { micros: number; expiresAt: number }>();
      this.spent.set(key, counters);
    }
    return counters;
  }

  /** drops expired holds of one scope (the replica that placed them is gone) */
  private prune(key: string, nowMs: number): ScopeHolds {
    let s = this.scopes.get(key);
    if (!s) {
      s = { holds: new Map(), held: 0, expiresFrom: Infinity };
      this.scopes.set(key, s);
    }
    if (nowMs < s.expiresFrom) return s;
    let next = Infinity;
    for (const [id, h] of s.holds) {
      if (h.expiresAt <= nowMs) {
        s.holds.delete(id);
        s.held -= h.amount;
      } else if (h.expiresAt < next) next = h.expiresAt;
    }
    s.expiresFrom = next;
    return s;
  }

  /** bounded memory: forget expired counters, records and empty scopes now and then */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = nowMs;
    for (const [k, counters] of this.spent) {
      for (const [bucket, e] of counters) if (e.expiresAt <= nowMs) counters.delete(bucket);
      if (counters.size === 0) this.spent.delete(k);
    }
    for (const [k, r] of this.records) if (r.expiresAt <= nowMs) this.records.delete(k);
    for (const [k, s] of this.scopes) {
      this.prune(k, nowMs);
      if (s.holds.size === 0) this.scopes.delete(k);
    }
  }
}

function scopeKey(type: ScopeType, id: string): string {
  return `${type}:${id}`;
}

function expiry(period: BudgetPeriod, nowMs: number): number {
  return period === 'total' ? Number.POSITIVE_INFINITY : nowMs + SPENT_TTL_MS[period];
}
