import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  AccountService,
  ApiKeyService,
  MAX_MINTING_ANCESTORS,
  hasScope,
  type Principal,
} from '@switchboard/auth';
import { AppError } from '@switchboard/common';
import { createOwnKeySchema } from './admin.schemas';
import { apiKeyView } from './api-key.view';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { apiKeyListSchema, issuedKeySchema, meSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody } from '../http/zod.pipe';
import type { z } from 'zod';

/**
 * Self-service for any authenticated caller: who am I, and my own API keys.
 * Another owner's key id answers 404, exactly like an unknown id, so key ids
 * of other tenants cannot be probed.
 */
@Controller('me')
export class MeController {
  constructor(
    private readonly keys: ApiKeyService,
    private readonly accounts: AccountService,
  ) {}

  /** The principal as resolved for this request; it holds no secret. */
  @Get()
  @ApiDoc({ summary: 'The caller as authenticated', tag: 'me', response: meSchema })
  me(@CurrentPrincipal() p: Principal) {
    return {
      kind: p.kind,
      userId: p.userId,
      accountIds: p.accountIds,
      defaultAccountId: p.defaultAccountId ?? null,
      keyId: p.keyId ?? null,
      scopes: p.scopes,
      limits: p.limits,
    };
  }

  @Get('keys')
  @ApiDoc({ summary: "The caller's API keys", tag: 'me', response: apiKeyListSchema })
  async list(@CurrentPrincipal() p: Principal) {
    const now = Date.now();
    return {
      data: (await this.keys.list({ ownerUserId: p.userId })).map((k) => apiKeyView(k, now)),
    };
  }

  /**
   * A key owned by the caller, bound to an account they belong to, with scopes
   * they hold themselves and never `admin`. Limits stay the admin's to set; a
   * key minted by a key-authenticated caller records that key as its parent and
   * is admitted against the parent's limits and budgets too.
   */
  @Post('keys')
  @ApiDoc({
    summary: 'Issue a key for oneself (never admin scope)',
    tag: 'me',
    body: createOwnKeySchema,
    response: issuedKeySchema,
  })
  @HttpCode(201)
  async create(
    @CurrentPrincipal() p: Principal,
    @Body(new ZodBody(createOwnKeySchema)) b: z.infer<typeof createOwnKeySchema>,
  ) {
    for (const scope of b.scopes) {
      if (scope === 'admin' || !hasScope(p, scope))
        throw new AppError('forbidden', `You cannot grant the "${scope}" scope.`, {
          param: 'scopes',
        });
    }
    const accountId = b.accountId ?? p.defaultAccountId;
    if (!accountId)
      throw new AppError('invalid_request', 'accountId is required.', { param: 'accountId' });
    if (!(await this.belongsTo(p, accountId)))
      throw new AppError('forbidden', 'You do not belong to that account.', {
        param: 'accountId',
      });
    // admission follows a minted key's chain up to its top: it must stay followable
    if (p.keyId && (await this.keys.mintingAncestors(p.keyId)) >= MAX_MINTING_ANCESTORS)
      throw new AppError(
        'forbidden',
        `A key minted through ${MAX_MINTING_ANCESTORS} keys cannot mint another.`,
      );
    const issued = await this.keys.create({
      ownerUserId: p.userId,
      accountId,
      scopes: b.scopes,
      name: b.name ?? 'default',
      expiresAt: b.expiresAt ?? null,
      // minted with a key: bounded by that key's limits and budgets as well
      parentKeyId: p.keyId ?? null,
    });
    return { key: issued.key, record: apiKeyView(issued.record) };
  }

  @Delete('keys/:id')
  @ApiDoc({ summary: 'Revoke one of own keys', tag: 'me' })
  @HttpCode(204)
  async revoke(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    await this.keys.revoke(id, { ownerUserId: principal.userId });
  }

  /** An API key's principal carries only its bound account; memberships are the full list. */
  private async belongsTo(p: Principal, accountId: string): Promise<boolean> {
    return p.accountIds.includes(accountId) || (await this.accounts.isMember(p.userId, accountId));
  }
}
