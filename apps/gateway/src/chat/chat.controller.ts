import { Body, Controller, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import { hasScope } from '@switchboard/auth';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import type { Response } from 'express';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { parseBody } from '../http/parse-body';
import { sendError } from '../http/send-error';
import { classify } from '../http/all-exceptions.filter';
import type { GatewayRequest } from '../http/request.types';
import { ChatStreamRunner } from '../streaming/chat-stream.runner';
import { KillSwitch } from '../streaming/kill-switch.service';
import { cancelSchema, chatBodySchema, killSwitchSchema } from './chat-request.schema';
import { fromChatBody } from './request-mapping';
import { SwitchboardFramesEncoder } from './switchboard-frames.encoder';
import { requestIdentity, setIdentityHeaders } from '../http/request-identity';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { killSwitchResultSchema, switchboardFrameSchema } from '../openapi/response.schemas';
import type { ChatRunInput } from '@switchboard/chat';
import { ConversationChatRecorder } from '../conversations/conversation-chat.recorder';
import { CurrentPrincipal } from '../http/principal.decorator';
import { ZodBody } from '../http/zod.pipe';
import type { z } from 'zod';
import type { Principal } from '@switchboard/auth';

/** POST /chat: Switchboard frames over SSE, and the kill switch. */
@Controller()
@UseGuards(ScopesGuard)
export class ChatController {
  private readonly schema: ReturnType<typeof chatBodySchema>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly runner: ChatStreamRunner,
    private readonly killSwitch: KillSwitch,
    private readonly conversationTurns: ConversationChatRecorder,
  ) {
    this.schema = chatBodySchema(config.chat.maxMessages);
  }

  /**
   * Cancels a request in flight, on whichever replica runs it. A caller without the admin
   * scope reaches only its own requests: another user's id answers like an unknown one.
   */
  @Post('chat/cancel')
  @ApiDoc({
    summary: 'Cancel a request in flight (the kill switch)',
    tag: 'chat',
    body: cancelSchema,
    response: killSwitchResultSchema,
  })
  @HttpCode(200)
  @RequireScope('chat')
  async cancel(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(cancelSchema)) { requestId }: z.infer<typeof cancelSchema>,
  ): Promise<{ requestId: string; killed: boolean }> {
    return { requestId, killed: await this.#kill(principal, requestId) };
  }

  @Post('chat')
  @ApiDoc({
    summary:
      'Chat with Switchboard frames over SSE (a `killSwitch` body cancels a request, as POST /chat/cancel does)',
    tag: 'chat',
    body: (c) => chatBodySchema(c.chat.maxMessages).or(killSwitchSchema),
    events: switchboardFrameSchema,
    response: killSwitchResultSchema,
  })
  @HttpCode(200)
  @RequireScope('chat')
  chat(
    @Req() req: GatewayRequest,
    @CurrentPrincipal() principal: Principal,
    @Res() res: Response,
    @Body() body: unknown,
  ): void {
    // The body's shape picks the operation, so it is parsed here rather than by a pipe.
    if (body && typeof body === 'object' && 'killSwitch' in body) {
      const { killSwitch } = parseBody(killSwitchSchema, body);
      if (!killSwitch.value) {
        res.status(200).json({ requestId: killSwitch.requestId, killed: false });
        return;
      }
      this.#kill(principal, killSwitch.requestId).then(
        (killed) => res.status(200).json({ requestId: killSwitch.requestId, killed }),
        (e: unknown) => sendError(res, classify(e), req.requestId),
      );
      return;
    }
    this.runner.admit();
    const parsed = parseBody(this.schema, body);
    const identity = requestIdentity(req, parsed.options.requestId);
    setIdentityHeaders(res, identity);
    const { messages, params } = fromChatBody(parsed);
    this.#stream(
      res,
      parsed.options.conversationId,
      {
        ...identity,
        principal,
        modelId: parsed.options.model.id,
        messages,
        params,
        accountId: parsed.options.accountId,
        assistantId: parsed.options.assistantId,
        ragOnly: parsed.options.ragOnly,
        skipRag: parsed.options.skipRag,
        dataSources: [
          ...(parsed.dataSources ?? []),
          ...parsed.messages.flatMap((m) => m.data?.dataSources ?? []),
        ],
        receivedAt: req.receivedAt,
      },
      new SwitchboardFramesEncoder(),
    );
  }

  #kill(principal: Principal, requestId: string): Promise<boolean> {
    const owner = hasScope(principal, 'admin') ? undefined : principal.userId;
    return this.killSwitch.kill(requestId, owner);
  }

  /** Streams the run; a request naming a conversation also appends its turn there. */
  #stream(
    res: Response,
    conversationId: string | undefined,
    input: ChatRunInput,
    frames: SwitchboardFramesEncoder,
  ): void {
    if (conversationId === undefined) return this.runner.streamSse(res, input, frames);
    this.conversationTurns.wrap(res, input, conversationId, frames).then(
      (encoder) => this.runner.streamSse(res, input, encoder),
      (e: unknown) => sendError(res, classify(e), input.correlationId),
    );
  }
}
