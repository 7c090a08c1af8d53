import { errorType } from '@switchboard/common';
import type { FinishReason, TokenUsage } from '@switchboard/llm';
import type { PipelineEvent } from '@switchboard/chat';
import type { WireEncoder } from '../streaming/wire-encoder';

export function openAiUsage(u: TokenUsage) {
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    prompt_tokens_details: { cached_tokens: u.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

export function openAiFinish(r: FinishReason): string {
  return r === 'error' || r === 'cancelled' ? 'stop' : r;
}

/** `chat.completion.chunk` objects exactly as OpenAI streams them. */
export class OpenAiChunksEncoder implements WireEncoder {
  readonly trailer = ['[DONE]'];
  readonly #created = Math.floor(Date.now() / 1000);
  #roleSent = false;
  /** the JSON every chunk of this stream starts with, up to the delta */
  #prefix?: string;

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly includeUsage: boolean,
  ) {}

  /** A text delta without an object per token: the prefix is built once per stream. */
  #text(text: string): string {
    if (!this.#roleSent) return this.#chunk({ content: text });
    this.#prefix ??=
      `{"id":${JSON.stringify(this.id)},"object":"chat.completion.chunk","created":${this.#created},` +
      `"model":${JSON.stringify(this.model)},"system_fingerprint":null,"choices":[{"index":0,"delta":{"content":`;
    return `${this.#prefix}${JSON.stringify(text)}},"logprobs":null,"finish_reason":null}]}`;
  }

  #chunk(delta: Record<string, unknown>, finish: string | null = null): string {
    if (!this.#roleSent) {
      delta = { role: 'assistant', ...delta };
      this.#roleSent = true;
    }
    return JSON.stringify({
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  }

  encode(ev: PipelineEvent): string[] {
    switch (ev.type) {
      case 'text':
        return [this.#text(ev.text)];
      case 'tool_call':
        return [
          this.#chunk({
            tool_calls: [
              {
                index: ev.index,
                ...(ev.id ? { id: ev.id, type: 'function' } : {}),
                function: {
                  ...(ev.name ? { name: ev.name } : {}),
                  arguments: ev.argumentsDelta ?? '',
                },
              },
            ],
          }),
        ];
      case 'finish':
        return [this.#chunk({}, openAiFinish(ev.reason))];
      case 'error':
        return [
          JSON.stringify({
            error: {
              message: ev.error.message,
              type: errorType(ev.error.status),
              code: ev.error.code,
              param: null,
            },
          }),
        ];
      case 'end':
        if (!this.includeUsage) return [];
        return [
          JSON.stringify({
            id: this.id,
            object: 'chat.completion.chunk',
            created: this.#created,
            model: this.model,
            system_fingerprint: null,
            choices: [],
            usage: openAiUsage(ev.summary.usage),
          }),
        ];
      case 'status':
      case 'state':
      case 'usage':
      case 'upstream_first_token':
      case 'artifact': // stored by the assistant that asked for it, never sent raw
      case 'admitted':
        return [];
    }
  }
}
