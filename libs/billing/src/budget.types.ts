import type { BudgetPeriod, ScopeType } from './billing.types';

export interface BudgetLimit {
  period: BudgetPeriod;
  limitMicros: number;
}

export interface BudgetScope {
  type: ScopeType;
  id: string;
  /** empty = no limit on this scope, but its spend is still tracked */
  limits: BudgetLimit[];
}

export interface ReserveRequest {
  /** unique per upstream call; reserving the same id twice holds once */
  holdId: string;
  scopes: BudgetScope[];
  /** the worst-case cost (see `worstCaseCostMicros`) */
  amountMicros: number;
  /** the hold disappears after this long if never settled (e.g. its replica died) */
  ttlMs: number;
}

export type ReserveResult =
  | { ok: true }
  | {
      ok: false;
      scope: { type: ScopeType; id: string };
      period: BudgetPeriod;
      spentMicros: number;
      heldMicros: number;
      limitMicros: number;
    };

export type ReserveRejection = Extract<ReserveResult, { ok: false }>;

export interface ScopeUsage {
  spentMicros: number;
  heldMicros: number;
}

/** period -> bucket name at one instant, e.g. { hour: '2026-03-01T10', day: '2026-03-01', month: '2026-03', total: 'total' } */
export type Buckets = Record<BudgetPeriod, string>;
