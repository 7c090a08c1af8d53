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
  Req,
  UseGuards,
} from '@nestjs/common';
import { ConversationService } from '@switchboard/conversations';
import { parseInput, principalOf } from '../admin/request-input';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
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
  async create(@Req() req: GatewayRequest, @Body() body: unknown) {
    const { title } = parseBody(createConversationSchema, body ?? {});
    return conversationView(await this.conversations.create(principalOf(req), title));
  }

  @Get()
  @ApiDoc({
    summary: "The caller's conversations, newest activity first; `q` searches titles",
    tag: 'conversations',
    query: listConversationsQuerySchema,
    response: conversationListSchema,
  })
  async list(@Req() req: GatewayRequest, @Query() query: unknown) {
    const q = parseInput(listConversationsQuerySchema, query);
    const page = await this.conversations.list(principalOf(req), {
      limit: q.limit,
      cursor: q.cursor,
      search: q.q,
    });
    return { data: page.data.map(conversationView), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiDoc({ summary: 'One conversation of the caller', tag: 'conversations', response: conversationSchema })
  async get(@Req() req: GatewayRequest, @Param() params: unknown) {
    const { id } = parseInput(conversationIdSchema, params);
    return conversationView(await this.conversations.get(principalOf(req), id));
  }

  @Patch(':id')
  @ApiDoc({
    summary: 'Rename a conversation',
    tag: 'conversations',
    body: renameConversationSchema,
    response: conversationSchema,
  })
  async rename(@Req() req: GatewayRequest, @Param() params: unknown, @Body() body: unknown) {
    const { id } = parseInput(conversationIdSchema, params);
    const { title } = parseBody(renameConversationSchema, body);
    return conversationView(await this.conversations.rename(principalOf(req), id, title));
  }

  @Delete(':id')
  @ApiDoc({ summary: 'Delete a conversation and its messages', tag: 'conversations' })
  @HttpCode(204)
  async remove(@Req() req: GatewayRequest, @Param() params: unknown): Promise<void> {
    const { id } = parseInput(conversationIdSchema, params);
    await this.conversations.delete(principalOf(req), id);
  }

  @Get(':id/messages')
  @ApiDoc({
    summary: 'The messages of a conversation, oldest first, with sources, files and usage',
    tag: 'conversations',
    response: conversationMessageListSchema,
  })
  async messages(@Req() req: GatewayRequest, @Param() params: unknown) {
    const { id } = parseInput(conversationIdSchema, params);
    return { data: (await this.conversations.messages(principalOf(req), id)).map(messageView) };
  }
}
