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
  Query,
  UseGuards,
} from '@nestjs/common';
import { ApiKeyService } from '@switchboard/auth';
import { LIMITS_VERSION, limitsChanged, type LimitsVersion } from '@switchboard/rate-limit';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { createKeySchema, keyFilterSchema, limitsBodySchema, rotateSchema } from './admin.schemas';
import { apiKeyView } from './api-key.view';
import { ApiDoc } from '../openapi/api-doc.decorator';
import {
  apiKeyListSchema,
  apiKeySchema,
  issuedKeySchema,
  rotatedKeySchema,
} from '../openapi/response.schemas';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';

/**
 * Admin API for API keys. The plaintext key appears in the create and rotate
 * responses only; every other response carries the record and its prefix.
 */
@Controller('admin/keys')
@UseGuards(ScopesGuard)
@RequireScope('admin')
export class AdminKeysController {
  constructor(
    private readonly keys: ApiKeyService,
    @Inject(LIMITS_VERSION) private readonly limitsVersion: LimitsVersion,
  ) {}

  @Post()
  @ApiDoc({
    summary: 'Issue an API key (the secret is shown once)',
    tag: 'admin',
    body: createKeySchema,
    response: issuedKeySchema,
  })
  @HttpCode(201)
  async create(@Body(new ZodBody(createKeySchema)) b: z.infer<typeof createKeySchema>) {
    const issued = await this.keys.create({
      ownerUserId: b.ownerUserId,
      accountId: b.accountId,
      scopes: b.scopes,
      name: b.name ?? 'default',
      expiresAt: b.expiresAt ?? null,
      limits: b.limits ?? null,
    });
    return { key: issued.key, record: apiKeyView(issued.record) };
  }

  @Get()
  @ApiDoc({
    summary: 'List API keys',
    tag: 'admin',
    query: keyFilterSchema,
    response: apiKeyListSchema,
  })
  async list(@Query(new ZodInput(keyFilterSchema)) filter: z.infer<typeof keyFilterSchema>) {
    const now = Date.now();
    return { data: (await this.keys.list(filter)).map((k) => apiKeyView(k, now)) };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One API key', tag: 'admin', response: apiKeySchema })
  async get(@Param('id') id: string) {
    return apiKeyView(await this.keys.get(id));
  }

  /** New key with the same owner, account, scopes and limits; the old one lives `graceSeconds` more. */
  @Post(':id/rotate')
  @ApiDoc({
    summary: 'Rotate a key; the old one works for the grace period',
    tag: 'admin',
    body: rotateSchema,
    response: rotatedKeySchema,
  })
  @HttpCode(201)
  async rotate(
    @Param('id') id: string,
    @Body(new ZodBody(rotateSchema)) { graceSeconds }: z.infer<typeof rotateSchema>,
  ) {
    const out = await this.keys.rotate(id, graceSeconds);
    // keys minted from the old key moved under the new one: every replica reloads chains
    await limitsChanged(this.limitsVersion);
    const now = Date.now();
    return {
      key: out.key,
      record: apiKeyView(out.record, now),
      previous: apiKeyView(out.previous, now),
    };
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Revoke a key', tag: 'admin' })
  @HttpCode(204)
  async revoke(@Param('id') id: string): Promise<void> {
    await this.keys.revoke(id);
  }

  /** Replaces the key's limit overrides; `{}` removes them (configured defaults apply). */
  @Put(':id/limits')
  @ApiDoc({
    summary: "Replace a key's limit overrides ({} clears them)",
    tag: 'admin',
    body: limitsBodySchema,
    response: apiKeySchema,
  })
  async setLimits(
    @Param('id') id: string,
    @Body(new ZodBody(limitsBodySchema)) limits: z.infer<typeof limitsBodySchema>,
  ) {
    const r = await this.keys.setLimits(id, Object.keys(limits).length ? limits : null);
    await limitsChanged(this.limitsVersion);
    return apiKeyView(r);
  }
}
