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
  /**
   * Places a hold without checking limits (restoring a journaled hold after the
   * store lost its data); a hold already present is left as it is.
   */
  restoreHold(req: StoreReserve): Promise<void>;
  /**
   * false when the store lost its data since spend was last seeded from the
   * ledger (restart, failover, eviction); `reserve` then throws
   * `BudgetStoreUnseededError` until `markSeeded` is called again.
   */
  isSeeded(): Promise<boolean>;
  /**
   * Read when seeding starts and passed to `markSeeded`: what the store needs
   * to tell a later loss from one the seeding already repairs.
   */
  seedStamp(): Promise<string>;
  markSeeded(stamp?: string): Promise<void>;
}

/** The budget store lost its data: spend must be re-seeded from the ledger before admitting. */
export class BudgetStoreUnseededError extends Error {
  constructor() {
    super('the budget store has not been seeded from the ledger');
    this.name = 'BudgetStoreUnseededError';
  }
}
