import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Put,
  Query,
  UseGuards,
} from '@nestjs/common';
import { AccountService, ApiKeyService } from '@switchboard/auth';
import {
  BudgetRepository,
  BudgetService,
  type BudgetRecord,
  type ScopeUsage,
} from '@switchboard/billing';
import { AppError } from '@switchboard/common';
import { LIMITS_VERSION, limitsChanged, type LimitsVersion } from '@switchboard/rate-limit';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { budgetBodySchema, budgetFilterSchema, budgetParamsSchema } from './admin.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { budgetListSchema, budgetSchema } from '../openapi/response.schemas';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';

const usd = (micros: number) => micros / 1_000_000;

function budgetView(b: BudgetRecord, usage?: ScopeUsage) {
  return {
    scopeType: b.scopeType,
    scopeId: b.scopeId,
    period: b.period,
    limitMicros: b.limitMicros,
    limitUsd: usd(b.limitMicros),
    ...(usage && {
      spentMicros: usage.spentMicros,
      heldMicros: usage.heldMicros,
      spentUsd: usd(usage.spentMicros),
      heldUsd: usd(usage.heldMicros),
    }),
  };
}

/**
 * Admin API for dollar budgets: one limit per (scope type, scope id, period).
 * Periods are UTC buckets; "spent" and "held" are those of the current bucket.
 */
@Controller('admin/budgets')
@UseGuards(ScopesGuard)
@RequireScope('admin')
export class AdminBudgetsController {
  constructor(
    private readonly repo: BudgetRepository,
    private readonly budgets: BudgetService,
    private readonly accounts: AccountService,
    private readonly keys: ApiKeyService,
    @Inject(LIMITS_VERSION) private readonly limitsVersion: LimitsVersion,
  ) {}

  @Get()
  @ApiDoc({
    summary: 'List budgets with spent and held amounts',
    tag: 'admin',
    query: budgetFilterSchema,
    response: budgetListSchema,
  })
  async list(@Query(new ZodInput(budgetFilterSchema)) f: z.infer<typeof budgetFilterSchema>) {
    const records = await this.repo.list(f.scopeType, f.scopeId);
    let usage: ScopeUsage[];
    try {
      usage = await Promise.all(
        records.map((b) => this.budgets.usage(b.scopeType, b.scopeId, b.period)),
      );
    } catch (e) {
      throw new AppError('service_unavailable', 'Budget usage cannot be read right now.', {
        cause: e,
      });
    }
    return { data: records.map((b, i) => budgetView(b, usage[i])) };
  }

  /** Sets (or replaces) a limit. Accounts and keys must exist; user ids are free-form. */
  @Put(':scopeType/:scopeId/:period')
  @ApiDoc({
    summary: 'Set a dollar budget (limitUsd or limitMicros)',
    tag: 'admin',
    body: budgetBodySchema,
    response: budgetSchema,
  })
  async set(
    @Param(new ZodInput(budgetParamsSchema)) p: z.infer<typeof budgetParamsSchema>,
    @Body(new ZodBody(budgetBodySchema)) { limitMicros }: z.infer<typeof budgetBodySchema>,
  ) {
    if (p.scopeType === 'account' && !(await this.accounts.get(p.scopeId)))
      throw new AppError('not_found', 'Account not found.');
    if (p.scopeType === 'key') await this.keys.get(p.scopeId);
    const record: BudgetRecord = { ...p, limitMicros };
    await this.repo.set(record);
    await limitsChanged(this.limitsVersion);
    return budgetView(record);
  }

  @Delete(':scopeType/:scopeId/:period')
  @ApiDoc({ summary: 'Remove a budget', tag: 'admin' })
  @HttpCode(204)
  async remove(
    @Param(new ZodInput(budgetParamsSchema)) p: z.infer<typeof budgetParamsSchema>,
  ): Promise<void> {
    if (!(await this.repo.remove(p.scopeType, p.scopeId, p.period)))
      throw new AppError('not_found', 'No such budget.');
    await limitsChanged(this.limitsVersion);
  }
}
