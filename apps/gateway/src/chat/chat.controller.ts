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
import { chatBodySchema, killSwitchSchema } from './chat-request.schema';
import { fromChatBody } from './request-mapping';
import { SwitchboardFramesEncoder } from './switchboard-frames.encoder';
import { requestIdentity, setIdentityHeaders } from '../http/request-identity';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { killSwitchResultSchema, switchboardFrameSchema } from '../openapi/response.schemas';
import type { ChatRunInput } from './chat-run.types';
import { ConversationChatRecorder } from '../conversations/conversation-chat.recorder';

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

  @Post('chat')
  @ApiDoc({
    summary: 'Chat with Switchboard frames over SSE, or cancel a request (kill switch)',
    tag: 'chat',
    body: (c) => chatBodySchema(c.chat.maxMessages).or(killSwitchSchema),
    events: switchboardFrameSchema,
    response: killSwitchResultSchema,
  })
  @HttpCode(200)
  @RequireScope('chat')
  chat(@Req() req: GatewayRequest, @Res() res: Response, @Body() body: unknown): void {
    const principal = req.principal!;
    if (body && typeof body === 'object' && 'killSwitch' in body) {
      const { killSwitch } = parseBody(killSwitchSchema, body);
      if (!killSwitch.value) {
        res.status(200).json({ requestId: killSwitch.requestId, killed: false });
        return;
      }
      const owner = hasScope(principal, 'admin') ? undefined : principal.userId;
      this.killSwitch.kill(killSwitch.requestId, owner).then(
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
