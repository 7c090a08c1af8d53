import type { Queryable } from '@switchboard/storage';
import type { ScopeType } from './billing.types';

/** an open hold as the journal has it, grouped by hold id */
export interface JournaledHold {
  holdId: string;
  scopes: Array<{ type: ScopeType; id: string }>;
  amountMicros: number;
  expiresAtMs: number;
}

/** how long a closed hold row is kept: long enough for its ledger rows to be written */
const CLOSED_RETENTION_MS = 15 * 60_000;

/**
 * A durable copy of every budget hold (the `budget_holds` table). The budget
 * store (Redis) is the fast path; this journal is what restores open holds, and
 * settled costs the ledger does not have yet, when the store loses its data.
 *
 * - `open` is written before the hold is placed in the store, so a hold the
 *   store has is always journaled.
 * - `close` keeps the settled cost; re-seeding counts
 *   `max(0, actual - cost already in the ledger for that request)`, so a cost is
 *   counted once whether or not its ledger rows have been flushed.
 */
export class BudgetHoldJournal {
  private readonly now: () => number;
  private readonly enabled: boolean;

  /**
   * `enabled: false` (in-process budgets) makes every call a no-op: process
   * memory is only lost with the process, and its open holds died with it.
   */
  constructor(
    private readonly db: Queryable,
    opts: { now?: () => number; enabled?: boolean } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.enabled = opts.enabled ?? true;
  }

  async open(
    holdId: string,
    scopes: ReadonlyArray<{ type: ScopeType; id: string }>,
    amountMicros: number,
    expiresAtMs: number,
  ): Promise<void> {
    if (!this.enabled || scopes.length === 0) return;
    const params: unknown[] = [holdId, amountMicros, new Date(expiresAtMs)];
    const tuples = scopes.map((s) => {
      params.push(s.type, s.id);
      return `($1, $${params.length - 1}, $${params.length}, $2, $3)`;
    });
    await this.db.query(
      `INSERT INTO budget_holds (hold_id, scope_type, scope_id, amount_micros, expires_at)
       VALUES ${tuples.join(', ')} ON CONFLICT (hold_id, scope_type, scope_id) DO NOTHING`,
      params,
    );
  }

  /** marks the hold settled at `actualMicros` (0 = released, nothing spent) */
  async close(holdId: string, actualMicros: number): Promise<void> {
    if (!this.enabled) return;
    if (actualMicros === 0) {
      await this.db.query('DELETE FROM budget_holds WHERE hold_id = $1', [holdId]);
      return;
    }
    await this.db.query(
      `UPDATE budget_holds SET closed_at = $2, actual_micros = $3
        WHERE hold_id = $1 AND closed_at IS NULL`,
      [holdId, new Date(this.now()), actualMicros],
    );
  }

  /** holds neither settled nor expired */
  async openHolds(): Promise<JournaledHold[]> {
    if (!this.enabled) return [];
    const r = await this.db.query<{
      hold_id: string;
      scope_type: ScopeType;
      scope_id: string;
      amount_micros: number | string;
      expires_at: Date | string;
    }>(
      `SELECT hold_id, scope_type, scope_id, amount_micros, expires_at FROM budget_holds
        WHERE closed_at IS NULL AND expires_at > $1 ORDER BY hold_id`,
      [new Date(this.now())],
    );
    const out = new Map<string, JournaledHold>();
    for (const row of r.rows) {
      let h = out.get(row.hold_id);
      if (!h) {
        h = {
          holdId: row.hold_id,
          scopes: [],
          amountMicros: Number(row.amount_micros),
          expiresAtMs: new Date(row.expires_at).getTime(),
        };
        out.set(row.hold_id, h);
      }
      h.scopes.push({ type: row.scope_type, id: row.scope_id });
    }
    return [...out.values()];
  }

  /** which of `holdIds` are still open (neither settled nor released) */
  async stillOpen(holdIds: readonly string[]): Promise<Set<string>> {
    if (!this.enabled || holdIds.length === 0) return new Set();
    const r = await this.db.query<{ hold_id: string }>(
      `SELECT DISTINCT hold_id FROM budget_holds
        WHERE hold_id = ANY($1::text[]) AND closed_at IS NULL`,
      [holdIds],
    );
    return new Set(r.rows.map((x) => x.hold_id));
  }

  /**
   * Settled cost of a scope since `since` that the ledger does not have yet
   * (its rows are written in batches, after the settlement).
   */
  async unledgeredSince(scopeType: ScopeType, scopeId: string, since: Date): Promise<number> {
    if (!this.enabled) return 0;
    const r = await this.db.query<{ micros: number | string }>(
      `SELECT COALESCE(SUM(GREATEST(0, h.actual_micros - COALESCE(
                (SELECT SUM(u.cost_micros) FROM usage_ledger u WHERE u.request_id = h.hold_id), 0))), 0)::bigint AS micros
         FROM budget_holds h
        WHERE h.scope_type = $1 AND h.scope_id = $2 AND h.closed_at >= $3`,
      [scopeType, scopeId, since],
    );
    return Number(r.rows[0]?.micros ?? 0);
  }

  /** drops closed rows old enough for the ledger to have their cost, and expired ones */
  async prune(): Promise<number> {
    if (!this.enabled) return 0;
    const now = this.now();
    const r = await this.db.query(
      `DELETE FROM budget_holds
        WHERE (closed_at IS NOT NULL AND closed_at < $1) OR expires_at < $2`,
      [new Date(now - CLOSED_RETENTION_MS), new Date(now)],
    );
    return r.rowCount;
  }
}
