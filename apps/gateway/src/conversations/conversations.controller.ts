import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
} from '@nestjs/common';
import { ConversationService } from '@switchboard/conversations';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { ApiDoc } from '../openapi/api-doc.decorator';
import {
  conversationListSchema,
  conversationMessageListSchema,
  conversationSchema,
} from '../openapi/response.schemas';
import { conversationView, messageView } from './conversation.view';
import {
  conversationIdSchema,
  createConversationSchema,
  listConversationsQuerySchema,
  renameConversationSchema,
} from './conversations.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody, ZodInput } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

/**
 * Conversations of the caller. A `/chat` request with `options.conversationId`
 * appends its turn as it streams. Another user's conversation answers 404.
 */
@Controller('conversations')
@UseGuards(ScopesGuard)
@RequireScope('chat')
export class ConversationsController {
  constructor(private readonly conversations: ConversationService) {}

  @Post()
  @ApiDoc({
    summary: 'Start a conversation (a /chat request naming it appends its turns)',
    tag: 'conversations',
    body: createConversationSchema,
    response: conversationSchema,
  })
  @HttpCode(201)
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(createConversationSchema, { optional: true }))
    { title }: z.infer<typeof createConversationSchema>,
  ) {
    return conversationView(await this.conversations.create(principal, title));
  }

  @Get()
  @ApiDoc({
    summary: "The caller's conversations, newest activity first; `q` searches titles",
    tag: 'conversations',
    query: listConversationsQuerySchema,
    response: conversationListSchema,
  })
  async list(
    @CurrentPrincipal() principal: Principal,
    @Query(new ZodInput(listConversationsQuerySchema))
    q: z.infer<typeof listConversationsQuerySchema>,
  ) {
    const page = await this.conversations.list(principal, {
      limit: q.limit,
      cursor: q.cursor,
      search: q.q,
    });
    return { data: page.data.map(conversationView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiDoc({
    summary: 'One conversation of the caller',
    tag: 'conversations',
    response: conversationSchema,
  })
  async get(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(conversationIdSchema)) { id }: z.infer<typeof conversationIdSchema>,
  ) {
    return conversationView(await this.conversations.get(principal, id));
  }

  @Patch(':id')
  @ApiDoc({
    summary: 'Rename a conversation',
    tag: 'conversations',
    body: renameConversationSchema,
    response: conversationSchema,
  })
  async rename(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(conversationIdSchema)) { id }: z.infer<typeof conversationIdSchema>,
    @Body(new ZodBody(renameConversationSchema))
    { title }: z.infer<typeof renameConversationSchema>,
  ) {
    return conversationView(await this.conversations.rename(principal, id, title));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete a conversation and its messages', tag: 'conversations' })
  @HttpCode(204)
  async remove(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(conversationIdSchema)) { id }: z.infer<typeof conversationIdSchema>,
  ): Promise<void> {
    await this.conversations.delete(principal, id);
  }

  @Get(':id/messages')
  @ApiDoc({
    summary: 'The messages of a conversation, oldest first, with sources, files and usage',
    tag: 'conversations',
    response: conversationMessageListSchema,
  })
  async messages(
    @CurrentPrincipal() principal: Principal,
    @Param(new ZodInput(conversationIdSchema)) { id }: z.infer<typeof conversationIdSchema>,
  ) {
    return { data: (await this.conversations.messages(principal, id)).map(messageView) };
  }
}
