import type { Queryable } from '@switchboard/storage';

export type ReportGroup = 'user' | 'account' | 'key' | 'model' | 'day';
export const REPORT_GROUPS: readonly ReportGroup[] = ['user', 'account', 'key', 'model', 'day'];

export interface UsageReportQuery {
  /** inclusive */
  from: Date;
  /** exclusive */
  to: Date;
  groupBy: ReportGroup[];
  /** restricts the report to one user's calls; how non-admins see only their own usage */
  userId?: string;
  /**
   * restricts the report to the calls of the requests the client named so
   * (a correlation id: unique per user only, so combine it with `userId`)
   */
  clientRequestId?: string;
}

export interface UsageReportRow {
  userId?: string;
  accountId?: string | null;
  keyId?: string | null;
  model?: string;
  /** UTC date, YYYY-MM-DD */
  day?: string;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costMicros: number;
}

// Allowlist: group names map to fixed SQL, never to caller-supplied text.
const GROUP_SQL: Record<ReportGroup, { expr: string; alias: string; key: keyof UsageReportRow }> = {
  user: { expr: 'user_id', alias: 'user_id', key: 'userId' },
  account: { expr: 'account_id', alias: 'account_id', key: 'accountId' },
  key: { expr: 'key_id', alias: 'key_id', key: 'keyId' },
  model: { expr: 'model', alias: 'model', key: 'model' },
  day: { expr: `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, alias: 'day', key: 'day' },
};

export class InvalidReportQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReportQueryError';
  }
}

type RawRow = Record<string, unknown>;

/** Totals from the usage ledger over a time range, grouped as asked. */
export class UsageReports {
  constructor(private readonly db: Queryable) {}

  async query(q: UsageReportQuery): Promise<UsageReportRow[]> {
    if (!(q.from instanceof Date) || Number.isNaN(q.from.getTime()))
      throw new InvalidReportQueryError('invalid from');
    if (!(q.to instanceof Date) || Number.isNaN(q.to.getTime()))
      throw new InvalidReportQueryError('invalid to');
    if (q.to < q.from) throw new InvalidReportQueryError('to is before from');
    const groups = [...new Set(q.groupBy)];
    for (const g of groups) {
      if (!REPORT_GROUPS.includes(g))
        throw new InvalidReportQueryError(`cannot group by ${String(g)}`);
    }
    const cols = groups.map((g) => GROUP_SQL[g]);
    const params: unknown[] = [q.from, q.to];
    let where = 'created_at >= $1 AND created_at < $2';
    if (q.userId !== undefined) {
      params.push(q.userId);
      where += ` AND user_id = $${params.length}`;
    }
    if (q.clientRequestId !== undefined) {
      params.push(q.clientRequestId);
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

const CSV_COLUMNS: Array<{ key: keyof UsageReportRow; header: string }> = [
  { key: 'day', header: 'day' },
  { key: 'userId', header: 'user_id' },
  { key: 'accountId', header: 'account_id' },
  { key: 'keyId', header: 'key_id' },
  { key: 'model', header: 'model' },
  { key: 'requests', header: 'requests' },
  { key: 'inputTokens', header: 'input_tokens' },
  { key: 'cachedInputTokens', header: 'cached_input_tokens' },
  { key: 'outputTokens', header: 'output_tokens' },
  { key: 'reasoningTokens', header: 'reasoning_tokens' },
  { key: 'costMicros', header: 'cost_micros' },
];

/** RFC 4180: fields with comma, quote, CR or LF are quoted, quotes doubled. */
function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * CSV (RFC 4180, CRLF line ends, header row). Group columns appear when any row
 * has them — pass `groupBy` to fix the columns even for an empty report.
 */
export function toCsv(rows: UsageReportRow[], groupBy?: ReportGroup[]): string {
  const groupKeys = groupBy
    ? new Set(groupBy.map((g) => GROUP_SQL[g].key))
    : new Set(rows.flatMap((r) => Object.keys(r) as Array<keyof UsageReportRow>));
  const cols = CSV_COLUMNS.filter(
    (c) =>
      [
        'requests',
        'inputTokens',
        'cachedInputTokens',
        'outputTokens',
        'reasoningTokens',
        'costMicros',
      ].includes(c.key) || groupKeys.has(c.key),
  );
  const lines = [cols.map((c) => csvField(c.header)).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvField(r[c.key])).join(','));
  return lines.join('\r\n') + '\r\n';
}
