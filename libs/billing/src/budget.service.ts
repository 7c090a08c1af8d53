import type { BudgetPeriod, ScopeType } from './billing.types';
import { BUDGET_PERIODS } from './billing.types';
import { bucketsAt, periodStart } from './budget-periods';
import type { BudgetStore, StoreReserve, StoreSettle } from './budget-store.port';
import type { ReserveRejection, ReserveRequest, ReserveResult, ScopeUsage } from './budget.types';

export interface BudgetServiceOptions {
  now?: () => number;
}

/** what `rebuildFromLedger` needs from the ledger */
export interface SpentSource {
  spentSince(scopeType: ScopeType, scopeId: string, since: Date): Promise<number>;
}

function assertMicros(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
}

/**
 * Dollar budgets with holds. Before calling a model, `reserve` the worst-case
 * cost against every scope (user, account, key) and period; when the call ends,
 * `settle` with the actual cost. Store errors propagate: the caller applies its
 * fail-open/closed policy.
 */
export class BudgetService {
  private readonly now: () => number;

  constructor(
    private readonly store: BudgetStore,
    opts: BudgetServiceOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  async reserve(req: ReserveRequest): Promise<ReserveResult> {
    return await this.store.reserve(this.prepare(req));
  }

  /** what the store is asked for `req` (validated, timed): see `reserve` */
  prepare(req: ReserveRequest): StoreReserve {
    if (!req.holdId) throw new RangeError('holdId is required');
    assertMicros('amountMicros', req.amountMicros);
    if (!Number.isFinite(req.ttlMs) || req.ttlMs <= 0)
      throw new RangeError(`ttlMs must be positive, got ${req.ttlMs}`);
    for (const s of req.scopes)
      for (const l of s.limits) assertMicros('limitMicros', l.limitMicros);
    const nowMs = this.now();
    return {
      holdId: req.holdId,
      scopes: req.scopes,
      amountMicros: req.amountMicros,
      nowMs,
      expiresAtMs: nowMs + Math.ceil(req.ttlMs),
      buckets: bucketsAt(nowMs),
    };
  }

  /**
   * Releases the hold and adds `actualMicros` to the current hour/day/month/total
   * of every scope the hold was placed in. Idempotent: true only for the call
   * that settled. Still counts the cost when the hold had already expired.
   */
  async settle(holdId: string, actualMicros: number): Promise<boolean> {
    return await this.store.settle(this.prepareSettle(holdId, actualMicros));
  }

  /** what the store is asked to settle (validated, timed): see `settle` */
  prepareSettle(holdId: string, actualMicros: number): StoreSettle {
    assertMicros('actualMicros', actualMicros);
    const nowMs = this.now();
    return { holdId, actualMicros, nowMs, buckets: bucketsAt(nowMs) };
  }

  /** settle at zero: the call never reached the provider */
  release(holdId: string): Promise<boolean> {
    return this.settle(holdId, 0);
  }

  /**
   * Raises the current bucket's spend to at least `micros`. Raising (not
   * setting) keeps cost settled by other replicas but not yet in the ledger.
   */
  async seedSpent(
    scopeType: ScopeType,
    scopeId: string,
    period: BudgetPeriod,
    micros: number,
  ): Promise<void> {
    assertMicros('micros', micros);
    const nowMs = this.now();
    await this.store.seedSpent(scopeType, scopeId, period, bucketsAt(nowMs)[period], micros, nowMs);
  }

  /** Seeds every period of each scope from the ledger (Redis keeps nothing across restarts). */
  async rebuildFromLedger(
    ledger: SpentSource,
    scopes: Array<{ type: ScopeType; id: string }>,
    periods: readonly BudgetPeriod[] = BUDGET_PERIODS,
  ): Promise<void> {
    const nowMs = this.now();
    for (const s of scopes) {
      for (const p of periods) {
        const micros = await ledger.spentSince(s.type, s.id, periodStart(p, nowMs));
        if (micros > 0) await this.seedSpent(s.type, s.id, p, micros);
      }
    }
  }

  /** spend of the current bucket of `period` and the open holds of the scope */
  usage(scopeType: ScopeType, scopeId: string, period: BudgetPeriod): Promise<ScopeUsage> {
    const nowMs = this.now();
    return this.store.usage(scopeType, scopeId, bucketsAt(nowMs)[period], nowMs);
  }
}

const PERIOD_WORD: Record<BudgetPeriod, string> = {
  hour: 'hourly',
  day: 'daily',
  month: 'monthly',
  total: 'total',
};

/** "$1.234567" style, exact for micro-dollars */
export function formatMicros(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  const dollars = Math.floor(abs / 1_000_000);
  const frac = String(abs % 1_000_000)
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `${sign}$${dollars}.${frac.padEnd(2, '0')}`;
}

/** Client-safe message for a 402 `budget_exceeded`: names the period, the spend and the limit. */
export function describeRejection(r: ReserveRejection): string {
  return (
    `${PERIOD_WORD[r.period]} budget of ${r.scope.type} exceeded: ` +
    `${formatMicros(r.spentMicros)} spent and ${formatMicros(r.heldMicros)} reserved by requests in progress ` +
    `of a ${formatMicros(r.limitMicros)} limit`
  );
}
