import { Injectable, Logger } from '@nestjs/common';
import { lastUserText } from '@switchboard/assistants';
import { ConversationService } from '@switchboard/conversations';
import type { Response } from 'express';
import type { ChatRunInput } from '@switchboard/chat';
import type { WireEncoder } from '../streaming/wire-encoder';
import { ConversationTurnEncoder } from './conversation-turn.encoder';

/**
 * Appends a `/chat` turn to the caller's conversation while it streams: the
 * user's message and the assistant's answer (settled on end, or as cancelled
 * with its partial text when the connection closes first).
 */
@Injectable()
export class ConversationChatRecorder {
  private readonly log = new Logger('conversations');

  constructor(private readonly conversations: ConversationService) {}

  /**
   * Stores the user's message and returns the encoder to stream with.
   * @throws AppError not_found (not the caller's conversation), before anything streams
   */
  async wrap(
    res: Response,
    input: ChatRunInput,
    conversationId: string,
    frames: WireEncoder,
  ): Promise<WireEncoder> {
    const turn = await this.conversations.beginTurn(input.principal, conversationId, {
      userText: lastUserText(input.messages),
      requestId: input.correlationId,
      model: input.modelId,
    });
    const onSettleError = (e: unknown) =>
      this.log.error({ err: e, conversationId, requestId: input.requestId }, 'turn not stored');
    const close = () => void turn.close().catch(onSettleError);
    if (res.writableEnded || res.destroyed) close();
    else res.on('close', close);
    return new ConversationTurnEncoder(frames, turn, onSettleError);
  }
}
