import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Req,
  UseGuards,
} from '@nestjs/common';
import { ExternalSourceService } from '@switchboard/datasources';
import { parseInput, principalOf } from '../admin/request-input';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { sourceView } from './file.view';
import { sourceBodySchema, sourceNameSchema } from './files.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { sourceListSchema, sourceSchema } from '../openapi/response.schemas';

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
  async register(@Req() req: GatewayRequest, @Body() body: unknown) {
    const input = parseBody(sourceBodySchema, body);
    return sourceView(await this.sources.register(principalOf(req), input));
  }

  @Get()
  @ApiDoc({ summary: 'External sources', tag: 'admin', response: sourceListSchema })
  async list() {
    return { data: (await this.sources.list()).map(sourceView) };
  }

  @Delete(':name')
  @ApiDoc({ summary: 'Remove an external source', tag: 'admin' })
  @HttpCode(204)
  async remove(@Req() req: GatewayRequest, @Param() params: unknown): Promise<void> {
    const { name } = parseInput(sourceNameSchema, params);
    await this.sources.remove(principalOf(req), name);
  }
}
