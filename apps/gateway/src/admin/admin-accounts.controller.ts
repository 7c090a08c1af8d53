import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  UseGuards,
} from '@nestjs/common';
import { AccountService, type AccountRecord } from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import { LIMITS_VERSION, limitsChanged, type LimitsVersion } from '@switchboard/rate-limit';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { createAccountSchema, limitsBodySchema, memberParamsSchema } from './admin.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { accountListSchema, accountSchema, membersSchema } from '../openapi/response.schemas';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';

/** Admin API for accounts (cost centres) and their members. */
@Controller('admin/accounts')
@UseGuards(ScopesGuard)
@RequireScope('admin')
export class AdminAccountsController {
  constructor(
    private readonly accounts: AccountService,
    @Inject(LIMITS_VERSION) private readonly limitsVersion: LimitsVersion,
  ) {}

  @Post()
  @ApiDoc({
    summary: 'Create an account',
    tag: 'admin',
    body: createAccountSchema,
    response: accountSchema,
  })
  @HttpCode(201)
  create(
    @Body(new ZodBody(createAccountSchema)) b: z.infer<typeof createAccountSchema>,
  ): Promise<AccountRecord> {
    return this.accounts.create({ id: b.id, name: b.name, limits: b.limits ?? null });
  }

  @Get()
  @ApiDoc({ summary: 'List accounts', tag: 'admin', response: accountListSchema })
  async list() {
    return { data: await this.accounts.list() };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One account', tag: 'admin', response: accountSchema })
  get(@Param('id') id: string): Promise<AccountRecord> {
    return this.existing(id);
  }

  /** Replaces the account's limit overrides; `{}` removes them. */
  @Put(':id/limits')
  @ApiDoc({
    summary: "Replace an account's limit overrides",
    tag: 'admin',
    body: limitsBodySchema,
    response: accountSchema,
  })
  async setLimits(
    @Param('id') id: string,
    @Body(new ZodBody(limitsBodySchema)) limits: z.infer<typeof limitsBodySchema>,
  ): Promise<AccountRecord> {
    const r = await this.accounts.setLimits(id, Object.keys(limits).length ? limits : null);
    await limitsChanged(this.limitsVersion);
    return r;
  }

  @Get(':id/members')
  @ApiDoc({ summary: 'Members of an account', tag: 'admin', response: membersSchema })
  async members(@Param('id') id: string) {
    await this.existing(id);
    return { data: (await this.accounts.members(id)).map((userId) => ({ userId })) };
  }

  /** Idempotent: adding a member twice is not an error. */
  @Put(':id/members/:userId')
  @ApiDoc({ summary: 'Add a member (idempotent)', tag: 'admin' })
  @HttpCode(204)
  async addMember(
    @Param(new ZodInput(memberParamsSchema)) { id, userId }: z.infer<typeof memberParamsSchema>,
  ): Promise<void> {
    await this.accounts.addMember(id, userId);
  }

  @Delete(':id/members/:userId')
  @ApiDoc({ summary: 'Remove a member', tag: 'admin' })
  @HttpCode(204)
  async removeMember(
    @Param(new ZodInput(memberParamsSchema)) { id, userId }: z.infer<typeof memberParamsSchema>,
  ): Promise<void> {
    if (!(await this.accounts.removeMember(id, userId)))
      throw new AppError('not_found', 'No such member of this account.');
  }

  private async existing(id: string): Promise<AccountRecord> {
    const account = await this.accounts.get(id);
    if (!account) throw new AppError('not_found', 'Account not found.');
    return account;
  }
}
