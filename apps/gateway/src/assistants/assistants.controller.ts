import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Req,
  UseGuards,
} from '@nestjs/common';
import { AssistantService } from '@switchboard/assistants';
import { principalOf, parseInput } from '../admin/request-input';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { assistantView } from './assistant.view';
import { assistantBodySchema, assistantIdSchema } from './assistants.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { assistantListSchema, assistantSchema } from '../openapi/response.schemas';

/**
 * User-defined assistants. Anyone who may chat can define one; only its owner
 * changes or deletes it; the owner and members of the accounts it is shared
 * with can read and use it. One the caller cannot see answers 404.
 */
@Controller('assistants')
@UseGuards(ScopesGuard)
@RequireScope('chat')
export class AssistantsController {
  constructor(private readonly assistants: AssistantService) {}

  @Post()
  @ApiDoc({
    summary: 'Create an assistant',
    tag: 'assistants',
    body: assistantBodySchema,
    response: assistantSchema,
  })
  @HttpCode(201)
  async create(@Req() req: GatewayRequest, @Body() body: unknown) {
    const input = parseBody(assistantBodySchema, body);
    return assistantView(await this.assistants.create(principalOf(req), input));
  }

  @Get()
  @ApiDoc({
    summary: 'Assistants the caller owns or that are shared with them',
    tag: 'assistants',
    response: assistantListSchema,
  })
  async list(@Req() req: GatewayRequest) {
    return { data: (await this.assistants.list(principalOf(req))).map(assistantView) };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One assistant', tag: 'assistants', response: assistantSchema })
  async get(@Req() req: GatewayRequest, @Param() params: unknown) {
    const { id } = parseInput(assistantIdSchema, params);
    return assistantView(await this.assistants.get(principalOf(req), id));
  }

  @Put(':id')
  @ApiDoc({
    summary: 'Replace an assistant',
    tag: 'assistants',
    body: assistantBodySchema,
    response: assistantSchema,
  })
  async update(@Req() req: GatewayRequest, @Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(assistantIdSchema, params);
    const input = parseBody(assistantBodySchema, body);
    return assistantView(await this.assistants.update(principalOf(req), id, input));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete an assistant', tag: 'assistants' })
  @HttpCode(204)
  async remove(@Req() req: GatewayRequest, @Param() params: unknown): Promise<void> {
    const { id } = parseInput(assistantIdSchema, params);
    await this.assistants.delete(principalOf(req), id);
  }
}
