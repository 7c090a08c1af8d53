import type { Queryable } from '@switchboard/storage';
import { UsageLedgerRepository } from './usage-ledger.repository';

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

/** the row field each group fills */
const GROUP_KEY: Record<ReportGroup, keyof UsageReportRow> = {
  user: 'userId',
  account: 'accountId',
  key: 'keyId',
  model: 'model',
  day: 'day',
};

export class InvalidReportQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReportQueryError';
  }
}

/** Totals from the usage ledger over a time range, grouped as asked. */
export class UsageReports {
  readonly #rows: UsageLedgerRepository;

  constructor(db: Queryable) {
    this.#rows = new UsageLedgerRepository(db);
  }

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
    return this.#rows.totals(q, q, groups);
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
    ? new Set(groupBy.map((g) => GROUP_KEY[g]))
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
