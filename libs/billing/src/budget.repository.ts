import type { Queryable } from '@switchboard/storage';
import type { BudgetPeriod, ScopeType } from './billing.types';
import { BUDGET_PERIODS, SCOPE_TYPES } from './billing.types';
import type { BudgetScope } from './budget.types';

export interface BudgetRecord {
  scopeType: ScopeType;
  scopeId: string;
  period: BudgetPeriod;
  limitMicros: number;
}

/** Configured budgets (the `budgets` table), set through the admin API. */
export class BudgetRepository {
  constructor(private readonly db: Queryable) {}

  async set(b: BudgetRecord): Promise<void> {
    if (!SCOPE_TYPES.includes(b.scopeType))
      throw new RangeError(`invalid scope type ${String(b.scopeType)}`);
    if (!BUDGET_PERIODS.includes(b.period))
      throw new RangeError(`invalid period ${String(b.period)}`);
    if (!Number.isSafeInteger(b.limitMicros) || b.limitMicros < 0)
      throw new RangeError('invalid limitMicros');
    await this.db.query(
      `INSERT INTO budgets (scope_type, scope_id, period, limit_micros) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scope_type, scope_id, period) DO UPDATE SET limit_micros = EXCLUDED.limit_micros, updated_at = now()`,
      [b.scopeType, b.scopeId, b.period, b.limitMicros],
    );
  }

  /** true when a budget was removed */
  async remove(scopeType: ScopeType, scopeId: string, period: BudgetPeriod): Promise<boolean> {
    const r = await this.db.query(
      'DELETE FROM budgets WHERE scope_type = $1 AND scope_id = $2 AND period = $3',
      [scopeType, scopeId, period],
    );
    return r.rowCount > 0;
  }

  async list(scopeType?: ScopeType, scopeId?: string): Promise<BudgetRecord[]> {
    const r = await this.db.query<{
      scope_type: ScopeType;
      scope_id: string;
      period: BudgetPeriod;
      limit_micros: number;
    }>(
      `SELECT scope_type, scope_id, period, limit_micros FROM budgets
        WHERE ($1::text IS NULL OR scope_type = $1) AND ($2::text IS NULL OR scope_id = $2)
        ORDER BY scope_type, scope_id, period`,
      [scopeType ?? null, scopeId ?? null],
    );
    return r.rows.map((x) => ({
      scopeType: x.scope_type,
      scopeId: x.scope_id,
      period: x.period,
      limitMicros: Number(x.limit_micros),
    }));
  }

  /**
   * The scopes of one request with their limits, ready for `BudgetService.reserve`.
   * Every requested scope is returned (with no limits when none are set) so its
   * spend is still tracked.
   */
  async scopesFor(scopes: Array<{ type: ScopeType; id: string }>): Promise<BudgetScope[]> {
    if (scopes.length === 0) return [];
    const params: unknown[] = [];
    const tuples = scopes.map((s) => {
      params.push(s.type, s.id);
      return `($${params.length - 1}, $${params.length})`;
    });
    const r = await this.db.query<{
      scope_type: ScopeType;
      scope_id: string;
      period: BudgetPeriod;
      limit_micros: number;
    }>(
      `SELECT scope_type, scope_id, period, limit_micros FROM budgets WHERE (scope_type, scope_id) IN (${tuples.join(', ')})`,
      params,
    );
    return scopes.map((s) => ({
      type: s.type,
      id: s.id,
      limits: r.rows
        .filter((x) => x.scope_type === s.type && x.scope_id === s.id)
        .map((x) => ({ period: x.period, limitMicros: Number(x.limit_micros) }))
        .sort((a, b) => BUDGET_PERIODS.indexOf(a.period) - BUDGET_PERIODS.indexOf(b.period)),
    }));
  }
}
