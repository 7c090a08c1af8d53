import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ExternalSourceService } from '@switchboard/datasources';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { sourceView } from './file.view';
import { sourceBodySchema, sourceNameSchema } from './files.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { sourceListSchema, sourceSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

/**
 * External HTTP data sources, fetched at chat time through the SSRF guard.
 * Header values reference secrets as `${secret:SOURCE_SECRET_X}`; the values
 * stay in the environment.
 */
@Controller('admin/sources')
@UseGuards(ScopesGuard)
@RequireScope('admin')
export class AdminSourcesController {
  constructor(private readonly sources: ExternalSourceService) {}

  @Post()
  @ApiDoc({
    summary: 'Register an external HTTP source',
    tag: 'admin',
    body: sourceBodySchema,
    response: sourceSchema,
  })
  @HttpCode(201)
  async register(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(sourceBodySchema)) input: z.infer<typeof sourceBodySchema>,
  ) {
    return sourceView(await this.sources.register(principal, input));
  }

  @Get()
  @ApiDoc({ summary: 'External sources', tag: 'admin', response: sourceListSchema })
  async list() {
    return { data: (await this.sources.list()).map(sourceView) };
  }

  @Delete(':name')
  @ApiDoc({ summary: 'Remove an external source', tag: 'admin' })
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(sourceNameSchema)) { name }: z.infer<typeof sourceNameSchema>,
  ): Promise<void> {
    await this.sources.remove(principal, name);
  }
}
