import type { AppError } from '@switchboard/common';
import type { ConversationTurn, MessageFile, MessageSource } from '@switchboard/conversations';
import type { PipelineEvent } from '@switchboard/chat';
import type { NamedFrame, WireEncoder } from '../streaming/wire-encoder';

interface SourcesState {
  sources?: { documents?: { sources?: MessageSource[] } };
  generatedFiles?: MessageFile[];
}

/**
 * Wraps the frames encoder of a `/chat` stream that names a conversation: every
 * event the client is sent is also collected into the conversation's turn, and
 * the end event settles it. The stream's bytes are exactly the inner encoder's.
 */
export class ConversationTurnEncoder implements WireEncoder {
  constructor(
    private readonly inner: WireEncoder,
    private readonly turn: ConversationTurn,
    private readonly onSettleError: (e: unknown) => void,
  ) {}

  get trailer(): string[] {
    return this.inner.trailer;
  }

  settle(): Promise<void> {
    return this.inner.settle?.() ?? Promise.resolve();
  }

  rejected(error: AppError): void {
    this.turn.setError({ code: error.code, message: error.message });
    this.inner.rejected?.(error);
  }

  encode(ev: PipelineEvent): Array<string | NamedFrame> {
    switch (ev.type) {
      case 'text':
        this.turn.appendText(ev.text);
        break;
      case 'state': {
        const s = ev.state as SourcesState;
        const sources = s.sources?.documents?.sources;
        if (Array.isArray(sources)) this.turn.setSources(sources);
        if (Array.isArray(s.generatedFiles)) this.turn.addGeneratedFiles(s.generatedFiles);
        break;
      }
      case 'error':
        this.turn.setError({ code: ev.error.code, message: ev.error.message });
        break;
      case 'end': {
        const sum = ev.summary;
        this.turn
          .end({
            status: sum.status,
            model: sum.model || null,
            usage: {
              inputTokens: sum.usage.inputTokens,
              cachedInputTokens: sum.usage.cachedInputTokens,
              outputTokens: sum.usage.outputTokens,
              reasoningTokens: sum.usage.reasoningTokens,
              costMicros: sum.costMicros,
              estimated: !sum.usageReported,
            },
          })
          .catch(this.onSettleError);
        break;
      }
      case 'status':
      case 'tool_call':
      case 'usage':
      case 'finish':
      case 'artifact':
      case 'admitted':
      case 'upstream_first_token':
        break;
    }
    return this.inner.encode(ev);
  }
}
