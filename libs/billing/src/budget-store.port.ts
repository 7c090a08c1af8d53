import type { BudgetPeriod, ScopeType } from './billing.types';
import type { BudgetScope, Buckets, ReserveResult, ScopeUsage } from './budget.types';

export const BUDGET_STORE = Symbol('BUDGET_STORE');

export interface StoreReserve {
  holdId: string;
  scopes: BudgetScope[];
  amountMicros: number;
  nowMs: number;
  expiresAtMs: number;
  buckets: Buckets;
}

export interface StoreSettle {
  holdId: string;
  actualMicros: number;
  nowMs: number;
  buckets: Buckets;
}

/**
 * Where spend and holds live. Each call is atomic on its own: `reserve` checks
 * every scope and period and places the hold in all or none; `settle` removes
 * the hold and adds the actual cost once.
 */
export interface BudgetStore {
  reserve(req: StoreReserve): Promise<ReserveResult>;
  /** true when this call settled the hold; false when it was already settled or unknown */
  settle(req: StoreSettle): Promise<boolean>;
  /** raises the spent counter of one bucket to at least `micros` (never lowers it) */
  seedSpent(
    scopeType: ScopeType,
    scopeId: string,
    period: BudgetPeriod,
    bucket: string,
    micros: number,
    nowMs: number,
  ): Promise<void>;
  usage(scopeType: ScopeType, scopeId: string, bucket: string, nowMs: number): Promise<ScopeUsage>;
}
