import { AppError } from '@switchboard/common';
import type {
  ResponseCreateParamsStreaming,
  ResponseInputItem,
  ResponseOutputItem,
  ResponseOutputTextAnnotationAddedEvent,
  ResponseStreamEvent,
  ResponseUsage,
  Tool,
} from 'openai/resources/responses/responses';
import type {
  ChatEvent,
  ChatMessage,
  FinishReason,
  ProviderChatRequest,
  TokenUsage,
} from '../chat.types';
import { messageText } from '../message-text';
import { codeRunFinished, codeRunStarted } from './code-run-status';
import { UpstreamError } from '../upstream-error';

/**
 * Requests with hosted tools go over the OpenAI Responses API, the only OpenAI
 * API that runs `code_interpreter`.
 * https://platform.openai.com/docs/api-reference/responses/create
 */
export function buildResponsesParams(
  req: ProviderChatRequest,
  /** ids of `hostedFiles` uploaded to the provider, mounted in the container */
  fileIds: string[] = [],
): ResponseCreateParamsStreaming {
  if (req.stop?.length)
    throw new AppError(
      'unsupported_parameter',
      'stop sequences are not available together with hosted code execution.',
      { param: 'stop' },
    );
  const tools: Tool[] = [];
  for (const t of req.hostedTools ?? [])
    if (t.type === 'code_interpreter')
      tools.push({
        type: 'code_interpreter',
        container: { type: 'auto', ...(fileIds.length ? { file_ids: fileIds } : {}) },
      });
  for (const t of req.tools ?? [])
    tools.push({
      type: 'function',
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? { type: 'object', properties: {} },
      strict: false,
    });
  const params: ResponseCreateParamsStreaming = {
    model: req.upstreamModel,
    input: toResponsesInput(req.messages),
    stream: true,
    tools,
  };
  if (req.maxTokens !== undefined) params.max_output_tokens = req.maxTokens;
  if (req.temperature !== undefined) params.temperature = req.temperature;
  if (req.topP !== undefined) params.top_p = req.topP;
  if (req.toolChoice !== undefined)
    params.tool_choice =
      typeof req.toolChoice === 'string'
        ? req.toolChoice
        : { type: 'function', name: req.toolChoice.name };
  if (req.reasoningEffort) params.reasoning = { effort: req.reasoningEffort };
  if (req.user) params.user = req.user;
  if (req.responseFormat) {
    const rf = req.responseFormat;
    params.text = {
      format:
        rf.type === 'json_schema'
          ? { type: 'json_schema', name: rf.name, schema: rf.schema, strict: rf.strict ?? null }
          : { type: rf.type },
    };
  }
  return params;
}

/** The conversation as Responses input items; tool calls and results become function-call items. */
export function toResponsesInput(messages: ChatMessage[]): ResponseInputItem[] {
  const items: ResponseInputItem[] = [];
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        items.push({ role: 'system', content: messageText(m) });
        break;
      case 'user':
        items.push({
          role: 'user',
          content:
            typeof m.content === 'string'
              ? m.content
              : m.content.map((p) =>
                  p.type === 'text'
                    ? { type: 'input_text' as const, text: p.text }
                    : { type: 'input_image' as const, image_url: p.url, detail: 'auto' as const },
                ),
        });
        break;
      case 'assistant': {
        const text = messageText(m);
        if (text !== '' || !m.toolCalls?.length) items.push({ role: 'assistant', content: text });
        for (const c of m.toolCalls ?? [])
          items.push({
            type: 'function_call',
            call_id: c.id,
            name: c.name,
            arguments: c.arguments,
          });
        break;
      }
      case 'tool':
        items.push({
          type: 'function_call_output',
          call_id: m.toolCallId ?? '',
          output: messageText(m),
        });
        break;
    }
  }
  return items;
}

export function usageFromResponses(u: ResponseUsage): TokenUsage {
  // input_tokens include cached ones; output_tokens include reasoning (as in Chat Completions).
  return {
    inputTokens: u.input_tokens ?? 0,
    cachedInputTokens: u.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: u.output_tokens ?? 0,
    reasoningTokens: u.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** A file the code wrote, cited in the answer text. */
export interface ContainerFileRef {
  containerId: string;
  fileId: string;
  filename: string;
}

/**
 * Folds the Responses stream into ChatEvents: text deltas, function calls (by
 * output position), code runs as status events (`running code`, then the code
 * and its logs), and the cited container files to fetch at the end.
 */
export class ResponsesEventMapper {
  readonly files = new Map<string, ContainerFileRef>();
  usage?: TokenUsage;
  finish?: FinishReason;
  readonly #callIndex = new Map<string, number>();
  readonly #containers = new Set<string>();

  /**
   * @param codeInterpreter the request offered hosted code execution: the API
   *   opens a container for it even when the model writes no code, so the call
   *   counts at least one container session
   */
  constructor(private readonly codeInterpreter = false) {}

  #usage(u: ResponseUsage): TokenUsage {
    const usage = usageFromResponses(u);
    if (!this.codeInterpreter) return usage;
    return { ...usage, codeInterpreterSessions: Math.max(1, this.#containers.size) };
  }

  map(ev: ResponseStreamEvent): ChatEvent[] {
    // Only the events below matter; the API adds event types over time, so the
    // rest (created, in_progress, content parts, code deltas...) are skipped.
    if (ev.type === 'response.output_text.delta')
      return ev.delta ? [{ type: 'text', text: ev.delta }] : [];
    if (ev.type === 'response.output_item.added') return this.#itemAdded(ev.item);
    if (ev.type === 'response.function_call_arguments.delta') {
      const index = this.#callIndex.get(ev.item_id);
      return index === undefined || !ev.delta
        ? []
        : [{ type: 'tool_call', index, argumentsDelta: ev.delta }];
    }
    if (ev.type === 'response.output_item.done') return this.#itemDone(ev.item);
    if (ev.type === 'response.output_text.annotation.added') {
      this.#cite(ev.annotation);
      return [];
    }
    if (ev.type === 'response.completed') {
      if (ev.response.usage) this.usage = this.#usage(ev.response.usage);
      this.finish = this.#callIndex.size > 0 ? 'tool_calls' : 'stop';
    } else if (ev.type === 'response.incomplete') {
      if (ev.response.usage) this.usage = this.#usage(ev.response.usage);
      this.finish =
        ev.response.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
    } else if (ev.type === 'response.failed') {
      const err = ev.response.error;
      throw new UpstreamError(
        'upstream_error',
        `response failed: ${err?.code ?? 'unknown'}: ${err?.message ?? ''}`,
        false,
      );
    } else if (ev.type === 'error')
      throw new UpstreamError(
        'upstream_error',
        `response error: ${ev.code ?? 'unknown'}: ${ev.message}`,
        false,
      );
    return [];
  }

  #itemAdded(item: ResponseOutputItem): ChatEvent[] {
    if (item.type === 'function_call') {
      const index = this.#callIndex.size;
      this.#callIndex.set(item.id ?? item.call_id, index);
      return [
        {
          type: 'tool_call',
          index,
          id: item.call_id,
          name: item.name,
          ...(item.arguments ? { argumentsDelta: item.arguments } : {}),
        },
      ];
    }
    if (item.type === 'code_interpreter_call') {
      if (item.container_id) this.#containers.add(item.container_id);
      return [codeRunStarted(item.id)];
    }
    return [];
  }

  #itemDone(item: ResponseOutputItem): ChatEvent[] {
    if (item.type !== 'code_interpreter_call') return [];
    if (item.container_id) this.#containers.add(item.container_id);
    const logs = (item.outputs ?? [])
      .flatMap((o) => (o.type === 'logs' ? [o.logs] : []))
      .join('\n');
    const ok = item.status === 'completed';
    return [
      codeRunFinished(item.id, {
        ok,
        message: `code run ${item.status}`,
        code: item.code ?? '',
        logs,
      }),
    ];
  }

  #cite(annotation: ResponseOutputTextAnnotationAddedEvent['annotation']): void {
    if (annotation?.type !== 'container_file_citation') return;
    if (this.files.has(annotation.file_id)) return;
    this.files.set(annotation.file_id, {
      containerId: annotation.container_id,
      fileId: annotation.file_id,
      filename: annotation.filename,
    });
  }
}
