import { Controller, Get, Logger, Query, Res } from '@nestjs/common';
import { accountIdSchema, hasScope } from '@switchboard/auth';
import {
  REPORT_GROUPS,
  UsageLedger,
  UsageReports,
  toCsv,
  type ReportGroup,
  type UsageReportRow,
} from '@switchboard/billing';
import type { Response } from 'express';
import { z } from 'zod';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { usageReportSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodInput } from '../http/zod.pipe';
import type { Principal } from '@switchboard/auth';

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const FLUSH_TIMEOUT_MS = 2_000;
/** what a client may name a request (`options.requestId`, `x-request-id`) */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** `YYYY-MM-DD` (UTC midnight) or an ISO 8601 timestamp with an offset. */
const instant = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })], {
    error:
      'must be a date YYYY-MM-DD or an ISO 8601 timestamp with an offset (2026-01-31T00:00:00Z)',
  })
  .transform((s) => ({
    at: new Date(DATE_ONLY.test(s) ? `${s}T00:00:00Z` : s),
    dateOnly: DATE_ONLY.test(s),
  }));

const reportQuerySchema = z
  .object({
    from: instant.optional(),
    to: instant.optional(),
    groupBy: z
      .string()
      .max(100)
      .transform((s) =>
        s
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      )
      .refine((gs): gs is ReportGroup[] => gs.every((g) => isReportGroup(g)), {
        message: `must be a comma-separated list of ${REPORT_GROUPS.join(', ')}`,
      })
      .optional(),
    format: z.enum(['json', 'csv']).default('json'),
    userId: z.string().min(1).max(200).optional(),
    accountId: accountIdSchema.optional(),
    clientRequestId: z
      .string()
      .regex(REQUEST_ID, 'must be 1-128 of A-Z a-z 0-9 . _ : -')
      .optional(),
  })
  .transform((q, ctx) => {
    const now = Date.now();
    const startOfToday = now - (now % DAY_MS);
    // a date-only `to` names the last day included; a timestamp is an exclusive bound
    const to = q.to
      ? new Date(q.to.at.getTime() + (q.to.dateOnly ? DAY_MS : 0))
      : new Date(startOfToday + DAY_MS);
    const today = new Date(now);
    const from = q.from?.at ?? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1));
    if (to < from)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
    return { ...q, from, to, groupBy: q.groupBy ?? (['user', 'model', 'day'] as ReportGroup[]) };
  });

/**
 * GET /usage/report: usage totals over [from, to), grouped by any of user,
 * account, key, model and day, as JSON or CSV. Non-admins only ever see their
 * own usage (a `userId` they pass is ignored); admins see everyone's and may
 * filter by `userId` and `accountId`. `clientRequestId` keeps the calls of the
 * requests the client named so (its `options.requestId` or `x-request-id`); a
 * client id is unique per user only, so for a non-admin it is their own request.
 *
 * Defaults: from = start of the current UTC month, to = end of today (UTC),
 * groupBy = user,model,day.
 */
@Controller('usage')
export class UsageReportsController {
  private readonly log = new Logger('usage-report');

  constructor(
    private readonly reports: UsageReports,
    private readonly ledger: UsageLedger,
  ) {}

  @Get('report')
  @ApiDoc({
    summary: 'Usage totals (JSON or CSV); non-admins see their own',
    tag: 'usage',
    query: reportQuerySchema,
    response: usageReportSchema,
    responseContentType: 'text/csv',
  })
  async report(
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
    @Query(new ZodInput(reportQuerySchema)) query: z.infer<typeof reportQuerySchema>,
  ) {
    const q = query;
    const userId = hasScope(p, 'admin') ? q.userId : p.userId;
    // rows are written in batches off the hot path; a report right after a request must include it
    await this.ledger.flush({ timeoutMs: FLUSH_TIMEOUT_MS }).catch((e: unknown) => {
      this.log.warn({ err: e }, 'ledger flush before report failed; report may lag');
    });
    const rows = await this.query(q.from, q.to, q.groupBy, {
      userId,
      accountId: q.accountId,
      clientRequestId: q.clientRequestId,
    });
    if (q.format === 'csv') {
      const name = `usage-${isoDay(q.from)}-${isoDay(new Date(q.to.getTime() - 1))}.csv`;
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
      return toCsv(rows, q.groupBy);
    }
    return {
      from: q.from,
      to: q.to,
      groupBy: q.groupBy,
      userId: userId ?? null,
      accountId: q.accountId ?? null,
      clientRequestId: q.clientRequestId ?? null,
      data: rows,
    };
  }

  /**
   * `UsageReports` filters by user only. For an account filter, group by
   * account as well and keep that account's rows: with the account fixed, the
   * remaining groups still identify each row uniquely, so no re-aggregation is
   * needed.
   */
  private async query(
    from: Date,
    to: Date,
    groupBy: ReportGroup[],
    filter: { userId?: string; accountId?: string; clientRequestId?: string },
  ): Promise<UsageReportRow[]> {
    const { userId, accountId, clientRequestId } = filter;
    if (accountId === undefined)
      return this.reports.query({ from, to, groupBy, userId, clientRequestId });
    const rows = await this.reports.query({
      from,
      to,
      groupBy: [...groupBy, 'account'],
      userId,
      clientRequestId,
    });
    const keepColumn = groupBy.includes('account');
    return rows
      .filter((r) => r.accountId === accountId)
      .map((r) => {
        if (keepColumn) return r;
        const { accountId: _a, ...rest } = r;
        return rest;
      });
  }
}

function isReportGroup(g: string): g is ReportGroup {
  return (REPORT_GROUPS as readonly string[]).includes(g);
}

function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
