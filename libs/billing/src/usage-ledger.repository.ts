import type { Queryable } from '@switchboard/storage';
import type { ScopeType, UsageRow } from './billing.types';
import type { ReportGroup, UsageReportRow } from './usage-reports.service';

/** the ledger's columns and their SQL types, in the order of `usageValues` */
const COLUMN_TYPES = [
  ['request_id', 'text'],
  ['attempt', 'integer'],
  ['parent_request_id', 'text'],
  ['user_id', 'text'],
  ['account_id', 'text'],
  ['key_id', 'text'],
  ['model', 'text'],
  ['provider', 'text'],
  ['input_tokens', 'bigint'],
  ['cached_input_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['reasoning_tokens', 'bigint'],
  ['cost_micros', 'bigint'],
  ['status', 'text'],
  ['error_code', 'text'],
  ['ttft_ms', 'integer'],
  ['duration_ms', 'integer'],
  ['created_at', 'timestamptz'],
  ['client_request_id', 'text'],
] as const;

/**
 * One array parameter per column, unnested into rows: the statement's text and its
 * 19 parameters are the same whatever the batch size, so the database parses and
 * plans a short statement instead of one with a placeholder per value (about 40%
 * less database CPU per row on the embedded database, measured).
 */
const INSERT_SQL = `INSERT INTO usage_ledger (${COLUMN_TYPES.map(([c]) => c).join(', ')})
  SELECT * FROM unnest(${COLUMN_TYPES.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
  ON CONFLICT (request_id, attempt) DO NOTHING`;

/** rows one INSERT may carry (bounds one statement's size) */
export const MAX_ROWS_PER_INSERT = 3_000;

const SCOPE_COLUMN: Record<ScopeType, string> = {
  user: 'user_id',
  account: 'account_id',
  key: 'key_id',
};

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/** a row's bind parameters, in column order; counts are clamped to non-negative integers */
export function usageValues(r: UsageRow, createdAt: Date): unknown[] {
  return [
    r.requestId,
    r.attempt,
    r.parentRequestId ?? null,
    r.userId,
    r.accountId ?? null,
    r.keyId ?? null,
    r.model,
    r.provider,
    count(r.inputTokens),
    count(r.cachedInputTokens),
    count(r.outputTokens),
    count(r.reasoningTokens),
    count(r.costMicros),
    r.status,
    r.errorCode ?? null,
    r.ttftMs == null ? null : count(r.ttftMs),
    count(r.durationMs),
    createdAt,
    r.clientRequestId ?? null,
  ];
}

// Allowlist: group names map to fixed SQL, never to caller-supplied text.
const GROUP_SQL: Record<ReportGroup, { expr: string; alias: string; key: keyof UsageReportRow }> = {
  user: { expr: 'user_id', alias: 'user_id', key: 'userId' },
  account: { expr: 'account_id', alias: 'account_id', key: 'accountId' },
  key: { expr: 'key_id', alias: 'key_id', key: 'keyId' },
  model: { expr: 'model', alias: 'model', key: 'model' },
  day: { expr: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, alias: 'day', key: 'day' },
};

type RawRow = Record<string, unknown>;

/**
 * The `usage_ledger` table (billing migrations): append-only rows, one per
 * upstream call, unique per (request_id, attempt).
 */
export class UsageLedgerRepository {
  constructor(private readonly db: Queryable) {}

  /** rows from `usageValues`; a row already present (same request and attempt) is skipped */
  async insertMany(rows: unknown[][]): Promise<void> {
    const columns = COLUMN_TYPES.map((_, i) => rows.map((row) => row[i]));
    await this.db.query(INSERT_SQL, columns);
  }

  /** total cost of a scope since `since` (inclusive) */
  async spentSince(scopeType: ScopeType, scopeId: string, since: Date): Promise<number> {
    const column = SCOPE_COLUMN[scopeType];
    const r = await this.db.query<{ micros: number | string }>(
      `SELECT COALESCE(SUM(cost_micros), 0)::bigint AS micros FROM usage_ledger WHERE ${column} = $1 AND created_at >= $2`,
      [scopeId, since],
    );
    return Number(r.rows[0]?.micros ?? 0);
  }

  /** totals over [from, to), grouped by distinct, validated `groups` */
  async totals(
    range: { from: Date; to: Date },
    filter: { userId?: string; clientRequestId?: string },
    groups: ReportGroup[],
  ): Promise<UsageReportRow[]> {
    const cols = groups.map((g) => GROUP_SQL[g]);
    const params: unknown[] = [range.from, range.to];
    let where = 'created_at >= $1 AND created_at < $2';
    if (filter.userId !== undefined) {
      params.push(filter.userId);
      where += ` AND user_id = $${params.length}`;
    }
    if (filter.clientRequestId !== undefined) {
      params.push(filter.clientRequestId);
      where += ` AND client_request_id = $${params.length}`;
    }
    const select = cols.map((c) => `${c.expr} AS ${c.alias}`);
    const groupBy = cols.length > 0 ? `GROUP BY ${cols.map((c) => c.expr).join(', ')}` : '';
    const orderBy =
      cols.length > 0 ? `ORDER BY ${cols.map((c) => `${c.alias} NULLS FIRST`).join(', ')}` : '';
    const sql = `
      SELECT ${[...select, ''].join(', ')}
             count(*)::bigint AS requests,
             COALESCE(SUM(input_tokens), 0)::bigint AS input_tokens,
             COALESCE(SUM(cached_input_tokens), 0)::bigint AS cached_input_tokens,
             COALESCE(SUM(output_tokens), 0)::bigint AS output_tokens,
             COALESCE(SUM(reasoning_tokens), 0)::bigint AS reasoning_tokens,
             COALESCE(SUM(cost_micros), 0)::bigint AS cost_micros
        FROM usage_ledger
       WHERE ${where}
       ${groupBy}
       ${orderBy}`;
    const r = await this.db.query<RawRow>(sql, params);
    return r.rows.map((raw) => {
      const row: UsageReportRow = {
        requests: Number(raw.requests),
        inputTokens: Number(raw.input_tokens),
        cachedInputTokens: Number(raw.cached_input_tokens),
        outputTokens: Number(raw.output_tokens),
        reasoningTokens: Number(raw.reasoning_tokens),
        costMicros: Number(raw.cost_micros),
      };
      for (const c of cols)
        (row as unknown as Record<string, unknown>)[c.key] = raw[c.alias] ?? null;
      return row;
    });
  }
}
