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
import { LIMITS_VERSION } from '../admission/admission.tokens';
import { limitsChanged, type LimitsVersion } from '../admission/limits-version';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import { createKeySchema, keyFilterSchema, limitsBodySchema, rotateSchema } from './admin.schemas';
import { apiKeyView } from './api-key.view';
import { parseInput } from './request-input';

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
  @HttpCode(201)
  async create(@Body() body: unknown) {
    const b = parseBody(createKeySchema, body);
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
  async list(@Query() query: unknown) {
    const filter = parseInput(keyFilterSchema, query);
    const now = Date.now();
    return { data: (await this.keys.list(filter)).map((k) => apiKeyView(k, now)) };
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    return apiKeyView(await this.keys.get(id));
  }

  /** New key with the same owner, account, scopes and limits; the old one lives `graceSeconds` more. */
  @Post(':id/rotate')
  @HttpCode(201)
  async rotate(@Param('id') id: string, @Body() body: unknown) {
    const { graceSeconds } = parseBody(rotateSchema, body);
    const out = await this.keys.rotate(id, graceSeconds);
    const now = Date.now();
    return {
      key: out.key,
      record: apiKeyView(out.record, now),
      previous: apiKeyView(out.previous, now),
    };
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id') id: string): Promise<void> {
    await this.keys.revoke(id);
  }

  /** Replaces the key's limit overrides; `{}` removes them (configured defaults apply). */
  @Put(':id/limits')
  async setLimits(@Param('id') id: string, @Body() body: unknown) {
    const limits = parseBody(limitsBodySchema, body);
    const r = await this.keys.setLimits(id, Object.keys(limits).length ? limits : null);
    await limitsChanged(this.limitsVersion);
    return apiKeyView(r);
  }
}
