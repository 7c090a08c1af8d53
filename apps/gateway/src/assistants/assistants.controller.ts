import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  UseGuards,
} from '@nestjs/common';
import { AssistantService } from '@switchboard/assistants';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { assistantView } from './assistant.view';
import { assistantBodySchema, assistantIdSchema } from './assistants.schemas';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { assistantListSchema, assistantSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

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
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(assistantBodySchema)) input: z.infer<typeof assistantBodySchema>,
  ) {
    return assistantView(await this.assistants.create(principal, input));
  }

  @Get()
  @ApiDoc({
    summary: 'Assistants the caller owns or that are shared with them',
    tag: 'assistants',
    response: assistantListSchema,
  })
  async list(@CurrentPrincipal() principal: Principal) {
    return { data: (await this.assistants.list(principal)).map(assistantView) };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One assistant', tag: 'assistants', response: assistantSchema })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(assistantIdSchema)) { id }: z.infer<typeof assistantIdSchema>,
  ) {
    return assistantView(await this.assistants.get(principal, id));
  }

  @Put(':id')
  @ApiDoc({
    summary: 'Replace an assistant',
    tag: 'assistants',
    body: assistantBodySchema,
    response: assistantSchema,
  })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(assistantIdSchema)) { id }: z.infer<typeof assistantIdSchema>,
    @Body(new ZodBody(assistantBodySchema)) input: z.infer<typeof assistantBodySchema>,
  ) {
    return assistantView(await this.assistants.update(principal, id, input));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete an assistant', tag: 'assistants' })
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(assistantIdSchema)) { id }: z.infer<typeof assistantIdSchema>,
  ): Promise<void> {
    await this.assistants.delete(principal, id);
  }
}
