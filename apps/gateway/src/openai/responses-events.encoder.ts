import type { AppError } from '@switchboard/common';
import type { FinishReason, TokenUsage } from '@switchboard/llm';
import type { ResponseItem } from '@switchboard/responses';
import { randomBytes } from 'node:crypto';
import type { PipelineEvent, RunSummary } from '@switchboard/chat';
import type { NamedFrame, WireEncoder } from '../streaming/wire-encoder';

/** An id shaped like OpenAI's (`resp_…`, `msg_…`, `fc_…`): prefix and 48 hex digits. */
export function responsesId(prefix: 'resp' | 'msg' | 'fc' | 'fco' | 'rs'): string {
  return `${prefix}_${randomBytes(24).toString('hex')}`;
}

export function responsesUsage(u: TokenUsage) {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedInputTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** The response object as it is while in progress; the request's settings echoed. */
export type ResponseObject = Record<string, unknown> & { id: string; output: ResponseItem[] };

interface OpenText {
  kind: 'text';
  outputIndex: number;
  item: ResponseItem;
  text: string;
}

interface OpenCall {
  kind: 'call';
  outputIndex: number;
  item: ResponseItem & { arguments: string; name: string; call_id: string };
}

const INCOMPLETE: Partial<Record<FinishReason, string>> = {
  length: 'max_output_tokens',
  content_filter: 'content_filter',
};

/**
 * Pipeline events as Responses API events, exactly as OpenAI streams them
 * (https://platform.openai.com/docs/api-reference/responses-streaming):
 * `response.created`, `response.in_progress`, then per output item
 * `output_item.added`, `content_part.added`, `output_text.delta`… or
 * `function_call_arguments.delta`…, the `.done` events, and one terminal
 * `response.completed` / `response.incomplete` / `response.failed` carrying the
 * whole response with usage. Every event has a `sequence_number`.
 *
 * The same builder serves the non-streaming answer: `final` is the response
 * object once the end event was encoded.
 */
export class ResponsesEventsEncoder implements WireEncoder {
  readonly trailer: string[] = [];
  #seq = 0;
  #started = false;
  #text: OpenText | undefined;
  readonly #calls = new Map<number, OpenCall>();
  readonly #output: ResponseItem[] = [];
  #finish: FinishReason = 'stop';
  #error: AppError | undefined;
  #final: ResponseObject | undefined;
  #settling: Promise<void> | undefined;

  constructor(
    private readonly base: ResponseObject,
    /** called once with the final response; the end event waits for its promise */
    private readonly onFinal?: (response: ResponseObject) => Promise<void> | void,
  ) {}

  settle(): Promise<void> {
    return this.#settling ?? Promise.resolve();
  }

  get final(): ResponseObject | undefined {
    return this.#final;
  }

  #event(type: string, fields: Record<string, unknown>): NamedFrame {
    return {
      event: type,
      data: JSON.stringify({ type, ...fields, sequence_number: this.#seq++ }),
    };
  }

  #snapshot(status: string, extra: Record<string, unknown> = {}): ResponseObject {
    return { ...this.base, status, output: [...this.#output], ...extra };
  }

  #start(out: NamedFrame[]): void {
    if (this.#started) return;
    this.#started = true;
    const response = this.#snapshot('in_progress');
    out.push(this.#event('response.created', { response }));
    out.push(this.#event('response.in_progress', { response }));
  }

  #openText(out: NamedFrame[]): OpenText {
    if (this.#text) return this.#text;
    const item: ResponseItem = {
      id: responsesId('msg'),
      type: 'message',
      status: 'in_progress',
      content: [],
      role: 'assistant',
    };
    const open: OpenText = { kind: 'text', outputIndex: this.#output.length, item, text: '' };
    this.#output.push(item);
    this.#text = open;
    out.push(this.#event('response.output_item.added', { output_index: open.outputIndex, item }));
    out.push(
      this.#event('response.content_part.added', {
        item_id: item.id,
        output_index: open.outputIndex,
        content_index: 0,
        part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
      }),
    );
    return open;
  }

  #closeText(out: NamedFrame[], status: 'completed' | 'incomplete'): void {
    const open = this.#text;
    if (!open) return;
    this.#text = undefined;
    const part = { type: 'output_text', annotations: [], logprobs: [], text: open.text };
    const item: ResponseItem = { ...open.item, status, content: [part] };
    this.#output[open.outputIndex] = item;
    const at = { item_id: item.id, output_index: open.outputIndex, content_index: 0 };
    out.push(this.#event('response.output_text.done', { ...at, text: open.text, logprobs: [] }));
    out.push(this.#event('response.content_part.done', { ...at, part }));
    out.push(this.#event('response.output_item.done', { output_index: open.outputIndex, item }));
  }

  #closeCalls(out: NamedFrame[], status: 'completed' | 'incomplete'): void {
    const calls = [...this.#calls.values()].sort((a, b) => a.outputIndex - b.outputIndex);
    this.#calls.clear();
    for (const c of calls) {
      const item = { ...c.item, status };
      this.#output[c.outputIndex] = item;
      out.push(
        this.#event('response.function_call_arguments.done', {
          item_id: item.id,
          output_index: c.outputIndex,
          name: item.name,
          arguments: item.arguments,
        }),
      );
      out.push(this.#event('response.output_item.done', { output_index: c.outputIndex, item }));
    }
  }

  encode(ev: PipelineEvent): NamedFrame[] {
    const out: NamedFrame[] = [];
    switch (ev.type) {
      case 'text': {
        if (!ev.text) return out;
        this.#start(out);
        const open = this.#openText(out);
        open.text += ev.text;
        out.push(
          this.#event('response.output_text.delta', {
            item_id: open.item.id,
            output_index: open.outputIndex,
            content_index: 0,
            delta: ev.text,
            logprobs: [],
          }),
        );
        return out;
      }
      case 'tool_call': {
        this.#start(out);
        let call = this.#calls.get(ev.index);
        if (!call) {
          this.#closeText(out, 'completed');
          const item = {
            id: responsesId('fc'),
            type: 'function_call',
            status: 'in_progress',
            arguments: '',
            call_id: ev.id ?? `call_${randomBytes(12).toString('hex')}`,
            name: ev.name ?? '',
          };
          call = { kind: 'call', outputIndex: this.#output.length, item };
          this.#output.push(item);
          this.#calls.set(ev.index, call);
          out.push(
            this.#event('response.output_item.added', { output_index: call.outputIndex, item }),
          );
        } else if (ev.name) call.item.name += ev.name;
        if (ev.argumentsDelta) {
          call.item.arguments += ev.argumentsDelta;
          out.push(
            this.#event('response.function_call_arguments.delta', {
              item_id: call.item.id,
              output_index: call.outputIndex,
              delta: ev.argumentsDelta,
            }),
          );
        }
        return out;
      }
      case 'finish':
        this.#finish = ev.reason;
        return out;
      case 'error':
        this.#error ??= ev.error;
        return out;
      case 'end':
        return this.#end(ev.summary);
      case 'status':
      case 'state':
      case 'usage':
      case 'upstream_first_token':
      case 'artifact':
      case 'admitted':
        return out;
    }
  }

  #end(summary: RunSummary): NamedFrame[] {
    const out: NamedFrame[] = [];
    this.#start(out);
    const incomplete = this.#error ? undefined : INCOMPLETE[this.#finish];
    const itemStatus = this.#error || incomplete ? 'incomplete' : 'completed';
    this.#closeText(out, itemStatus);
    this.#closeCalls(out, itemStatus);
    const usage = responsesUsage(summary.usage);
    let response: ResponseObject;
    let type: string;
    if (this.#error) {
      response = this.#snapshot('failed', {
        error: { code: this.#error.code, message: this.#error.message },
        usage,
      });
      type = 'response.failed';
    } else if (incomplete) {
      response = this.#snapshot('incomplete', {
        incomplete_details: { reason: incomplete },
        usage,
      });
      type = 'response.incomplete';
    } else {
      response = this.#snapshot('completed', {
        completed_at: Math.floor(Date.now() / 1000),
        usage,
      });
      type = 'response.completed';
    }
    this.#final = response;
    const pending = this.onFinal?.(response);
    if (pending) this.#settling = pending;
    out.push(this.#event(type, { response }));
    return out;
  }
}
