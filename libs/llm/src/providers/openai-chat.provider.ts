import { messageText } from '../message-text';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, toFile } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { Observable } from 'rxjs';
import type { ProviderKind } from '../catalogue.types';
import type {
  ChatEvent,
  ChatMessage,
  FinishReason,
  ProviderChatRequest,
  TokenUsage,
} from '../chat.types';
import type { LlmProvider, StreamOptions } from '../provider.port';
import { parseRetryAfter, UpstreamError, upstreamErrorFromStatus } from '../upstream-error';
import { AppError } from '@switchboard/common';
import {
  ChatCompletionsError,
  ChatCompletionsTransport,
  readChatJson,
  readChatSse,
  type ChatCompletionsEndpoint,
} from './chat-completions.transport';
import {
  buildResponsesParams,
  ResponsesEventMapper,
  type ContainerFileRef,
} from './openai-responses.mapper';

export function toOpenAiMessages(messages: ChatMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m): ChatCompletionMessageParam => {
    const content =
      typeof m.content === 'string'
        ? m.content
        : m.content.map((p) =>
            p.type === 'text'
              ? { type: 'text' as const, text: p.text }
              : { type: 'image_url' as const, image_url: { url: p.url } },
          );
    switch (m.role) {
      case 'system':
        return { role: 'system', content: typeof content === 'string' ? content : messageText(m) };
      case 'user':
        return { role: 'user', content, ...(m.name ? { name: m.name } : {}) };
      case 'assistant':
        return {
          role: 'assistant',
          content: typeof content === 'string' ? content : messageText(m),
          ...(m.toolCalls?.length
            ? {
                tool_calls: m.toolCalls.map((c) => ({
                  id: c.id,
                  type: 'function' as const,
                  function: { name: c.name, arguments: c.arguments },
                })),
              }
            : {}),
        };
      case 'tool':
        return { role: 'tool', content: messageText(m), tool_call_id: m.toolCallId ?? '' };
    }
  });
}

export function usageFromOpenAi(u: OpenAI.CompletionUsage): TokenUsage {
  // prompt_tokens already include cached tokens; completion_tokens include reasoning.
  return {
    inputTokens: u.prompt_tokens ?? 0,
    cachedInputTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
    outputTokens: u.completion_tokens ?? 0,
    reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function finishFromOpenAi(reason: string | null | undefined): FinishReason {
  switch (reason ?? '') {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function buildOpenAiParams(req: ProviderChatRequest): ChatCompletionCreateParamsStreaming {
  const tools: ChatCompletionTool[] | undefined = req.tools?.map((t) => ({
    type: 'function',
    function: { name: t.name, description: t.description, parameters: t.parameters },
  }));
  const params: ChatCompletionCreateParamsStreaming = {
    model: req.upstreamModel,
    messages: toOpenAiMessages(req.messages),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.maxTokens !== undefined) params.max_completion_tokens = req.maxTokens;
  if (req.temperature !== undefined) params.temperature = req.temperature;
  if (req.topP !== undefined) params.top_p = req.topP;
  if (req.stop?.length) params.stop = req.stop;
  if (tools?.length) params.tools = tools;
  if (req.toolChoice !== undefined)
    params.tool_choice =
      typeof req.toolChoice === 'string'
        ? req.toolChoice
        : { type: 'function', function: { name: req.toolChoice.name } };
  if (req.reasoningEffort) params.reasoning_effort = req.reasoningEffort;
  if (req.user) params.user = req.user;
  if (req.responseFormat) {
    const rf = req.responseFormat;
    params.response_format =
      rf.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: { name: rf.name, schema: rf.schema, strict: rf.strict ?? null },
          }
        : { type: rf.type };
  }
  return params;
}

/** undici's timeout errors, by their stable codes. */
const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Maps any error thrown by the openai SDK, fetch or the undici transport. */
export function mapOpenAiError(e: unknown, afterFirstChunk: boolean): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof ChatCompletionsError) {
    if (e.code === 'context_length_exceeded')
      return new UpstreamError('context_length_exceeded', e.message, false, e.status);
    if (afterFirstChunk)
      return new UpstreamError('upstream_disconnected', e.message, false, e.status);
    return upstreamErrorFromStatus(e.status, e.message, parseRetryAfter(e.retryAfter));
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code))
    return new UpstreamError('upstream_timeout', (e as Error).message, !afterFirstChunk);
  if (e instanceof APIConnectionTimeoutError)
    return new UpstreamError('upstream_timeout', e.message, !afterFirstChunk);
  if (e instanceof APIConnectionError)
    return new UpstreamError(
      afterFirstChunk ? 'upstream_disconnected' : 'upstream_unavailable',
      e.message,
      !afterFirstChunk,
    );
  if (e instanceof APIError) {
    const api = e as APIError<number | undefined, Headers | undefined>;
    const retryAfter = parseRetryAfter(api.headers?.get('retry-after'));
    const status = api.status;
    if (api.code === 'context_length_exceeded')
      return new UpstreamError('context_length_exceeded', api.message, false, status);
    if (afterFirstChunk)
      return new UpstreamError('upstream_disconnected', api.message, false, status);
    return upstreamErrorFromStatus(status, api.message, retryAfter);
  }
  // fetch's body stream failing mid-way surfaces as a TypeError ("terminated"),
  // undici's as a SocketError ("other side closed"), a refused connect as ECONNREFUSED.
  const detail = e instanceof Error ? e.message : String(e);
  return new UpstreamError(
    afterFirstChunk ? 'upstream_disconnected' : 'upstream_unavailable',
    detail,
    !afterFirstChunk,
  );
}

export interface OpenAiChatProviderOptions {
  kind: ProviderKind;
  name?: string;
  client: OpenAI;
  simulated?: boolean;
  /** largest file fetched from a code-interpreter container (default 32 MiB) */
  maxArtifactBytes?: number;
}

/** Where one model's streamed and whole answers are asked for. */
interface ModelEndpoints {
  stream: ChatCompletionsEndpoint;
  whole: ChatCompletionsEndpoint;
}

/** One upstream call in flight: where its events go and whether any went out. */
interface UpstreamCall {
  emit(e: ChatEvent): void;
  signal: AbortSignal;
  flow?: StreamOptions['flow'];
  /** an event reached the caller: a failure now is a disconnect, not retryable */
  started: boolean;
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 32 * 1024 * 1024;
const UPLOAD_CLEANUP_TIMEOUT_MS = 10_000;

/** Reads a fetch Response's body, refusing more than `max` bytes without buffering them. */
export async function readCapped(
  res: Response,
  max: number,
): Promise<{ data: Uint8Array } | { error: string }> {
  const tooLarge = { error: `larger than ${max} bytes` };
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    return tooLarge;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    const chunk = next.value as Uint8Array;
    size += chunk.byteLength;
    if (size > max) {
      await reader?.cancel().catch(() => undefined);
      return tooLarge;
    }
    chunks.push(chunk);
  }
  return { data: Buffer.concat(chunks, size) };
}

/**
 * Chat over the OpenAI Chat Completions wire protocol, for OpenAI itself, Azure
 * OpenAI (with an AzureOpenAI client) and OpenAI-compatible servers.
 */
export class OpenAiChatProvider implements LlmProvider {
  readonly kind: ProviderKind;
  readonly name: string;
  readonly simulated: boolean;
  protected readonly client: OpenAI;
  readonly maxArtifactBytes: number;
  /** Chat Completions go over undici; the SDK serves everything else. */
  readonly #transport: ChatCompletionsTransport;
  /** URL and headers per upstream model, as the SDK client builds them */
  readonly #endpoints = new Map<string, ModelEndpoints>();

  constructor(opts: OpenAiChatProviderOptions) {
    this.maxArtifactBytes = opts.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
    this.kind = opts.kind;
    this.name = opts.name ?? opts.kind;
    this.client = opts.client;
    this.simulated = opts.simulated ?? false;
    this.#transport = new ChatCompletionsTransport({ timeoutMs: opts.client.timeout });
  }

  /** Closes the upstream connection pools (idle sockets never hold the process open). */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  stream(request: ProviderChatRequest, options: StreamOptions = {}): Observable<ChatEvent> {
    return new Observable<ChatEvent>((subscriber) => {
      const abort = new AbortController();
      const onOuterAbort = () => abort.abort();
      options.signal?.addEventListener('abort', onOuterAbort, { once: true });
      const call: UpstreamCall = {
        emit: (e) => subscriber.next(e),
        signal: abort.signal,
        flow: options.flow,
        started: false,
      };

      const run = () =>
        request.hostedTools?.length
          ? this.#runResponses(request, call)
          : options.whole
            ? this.#runWhole(request, call)
            : this.#runChat(request, call);

      // Set before the last event goes out: completing runs the teardown, which
      // must not abort (and allocate a DOMException for) a call that is over.
      let settled = false;
      run().then(
        (finish) => {
          settled = true;
          if (abort.signal.aborted) return;
          if (finish === undefined) {
            subscriber.error(
              new UpstreamError(
                'upstream_disconnected',
                'stream ended without finish_reason',
                false,
              ),
            );
            return;
          }
          subscriber.next({ type: 'finish', reason: finish });
          subscriber.complete();
        },
        (e: unknown) => {
          settled = true;
          if (abort.signal.aborted) return;
          subscriber.error(mapOpenAiError(e, call.started));
        },
      );

      return () => {
        options.signal?.removeEventListener('abort', onOuterAbort);
        // Aborting allocates a DOMException; a finished call has nothing to abort.
        if (!settled) abort.abort();
      };
    });
  }

  /** Chat Completions with a streamed answer, unless hosted tools need the Responses API. */
  answersWhole(request: ProviderChatRequest): boolean {
    return !request.hostedTools?.length;
  }

  /** Chat Completions: the protocol of every OpenAI-compatible server. */
  async #runChat(request: ProviderChatRequest, call: UpstreamCall) {
    const params = this.params(request);
    const endpoint = (this.#endpoints.get(params.model) ?? (await this.#endpoint(params.model)))
      .stream;
    const res = await this.#transport.send(endpoint, JSON.stringify(params), call.signal);
    let finish: FinishReason | undefined;
    const onChunk = (payload: Record<string, unknown>) => {
      if (call.signal.aborted) return;
      call.started = true;
      const chunk = payload as unknown as ChatCompletionChunk;
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      if (delta?.content) call.emit({ type: 'text', text: delta.content });
      if (delta?.tool_calls)
        for (const tc of delta.tool_calls)
          call.emit({
            type: 'tool_call',
            index: tc.index,
            id: tc.id,
            name: tc.function?.name,
            argumentsDelta: tc.function?.arguments,
          });
      if (choice?.finish_reason) finish = finishFromOpenAi(choice.finish_reason);
      if (chunk.usage) call.emit({ type: 'usage', usage: usageFromOpenAi(chunk.usage) });
    };
    await readChatSse(res.body, onChunk, () => call.flow?.ready(call.signal));
    return call.signal.aborted ? undefined : finish;
  }

  /**
   * Chat Completions answered in one JSON body, for a client that reads the
   * answer whole: one parse instead of one per token. The events are the ones a
   * stream of the same answer gives, text and each tool call in one piece.
   */
  async #runWhole(request: ProviderChatRequest, call: UpstreamCall) {
    const { stream_options: _streaming, ...streamed } = this.params(request);
    const params = { ...streamed, stream: false };
    const endpoint = (this.#endpoints.get(params.model) ?? (await this.#endpoint(params.model)))
      .whole;
    const res = await this.#transport.send(endpoint, JSON.stringify(params), call.signal);
    const answer = (await readChatJson(res.body)) as unknown as Partial<ChatCompletion>;
    if (call.signal.aborted) return undefined;
    const choice = answer.choices?.[0];
    const message = choice?.message;
    call.started = true;
    if (message?.content) call.emit({ type: 'text', text: message.content });
    message?.tool_calls?.forEach((tc, index) => {
      if (tc.type === 'function')
        call.emit({
          type: 'tool_call',
          index,
          id: tc.id,
          name: tc.function.name,
          argumentsDelta: tc.function.arguments,
        });
    });
    if (answer.usage) call.emit({ type: 'usage', usage: usageFromOpenAi(answer.usage) });
    return choice?.finish_reason ? finishFromOpenAi(choice.finish_reason) : undefined;
  }

  /**
   * The SDK client decides the URL (base URL, Azure deployment path and
   * api-version) and headers (key, organisation, default headers); they are the
   * same for every request to a model, so they are built once per model.
   */
  async #endpoint(model: string): Promise<ModelEndpoints> {
    const built = await this.client.buildRequest({
      method: 'post',
      path: '/chat/completions',
      body: { model, messages: [], stream: true },
      stream: true,
    });
    const headers: Record<string, string> = {};
    new Headers(built.req.headers).forEach((value, name) => {
      if (name !== 'content-length') headers[name] = value;
    });
    const url = new URL(built.url);
    const endpoints = {
      stream: { url, headers: { ...headers, accept: 'text/event-stream' } },
      whole: { url, headers: { ...headers, accept: 'application/json' } },
    };
    this.#endpoints.set(model, endpoints);
    return endpoints;
  }

  /**
   * The Responses API, for hosted tools: code runs become status events, and
   * the files the code wrote (cited in the answer) are fetched from the
   * container after the answer and emitted as artifacts, before usage and finish.
   */
  async #runResponses(request: ProviderChatRequest, call: UpstreamCall) {
    if (this.kind === 'openai-compatible')
      throw new AppError(
        'unsupported_capability',
        'Hosted code execution needs the OpenAI or Azure OpenAI Responses API.',
        { param: 'model' },
      );
    const fileIds = await this.#uploadHostedFiles(request, call);
    try {
      return await this.#streamResponse(request, fileIds, call);
    } finally {
      await this.#deleteUploads(fileIds);
    }
  }

  /**
   * Puts the request's files where the code can read them: uploaded with
   * purpose `user_data` and mounted in the container (/mnt/data/<name>).
   * A failed upload removes the ones before it.
   */
  async #uploadHostedFiles(request: ProviderChatRequest, call: UpstreamCall): Promise<string[]> {
    const ids: string[] = [];
    try {
      for (const f of request.hostedFiles ?? []) {
        const uploaded = await this.client.files.create(
          { file: await toFile(f.data, f.name), purpose: 'user_data' },
          { signal: call.signal },
        );
        ids.push(uploaded.id);
      }
      return ids;
    } catch (e) {
      await this.#deleteUploads(ids);
      throw e;
    }
  }

  /** Best effort, and not cut short by the caller leaving: files must not stay upstream. */
  async #deleteUploads(ids: string[]): Promise<void> {
    await Promise.all(
      ids.map((id) =>
        this.client.files
          .delete(id, { signal: AbortSignal.timeout(UPLOAD_CLEANUP_TIMEOUT_MS) })
          .catch(() => undefined),
      ),
    );
  }

  async #streamResponse(request: ProviderChatRequest, fileIds: string[], call: UpstreamCall) {
    const stream = await this.client.responses.create(buildResponsesParams(request, fileIds), {
      signal: call.signal,
    });
    const mapper = new ResponsesEventMapper(
      request.hostedTools?.some((t) => t.type === 'code_interpreter'),
    );
    for await (const ev of stream) {
      if (call.signal.aborted) return undefined;
      for (const e of mapper.map(ev)) {
        call.started = true;
        call.emit(e);
      }
      const wait = call.flow?.ready(call.signal);
      if (wait) await wait;
    }
    if (mapper.finish === undefined) return undefined;
    for (const ref of mapper.files.values()) {
      if (call.signal.aborted) return undefined;
      const got = await this.#fetchContainerFile(ref, call.signal);
      call.emit(
        'data' in got
          ? { type: 'artifact', artifact: { name: ref.filename, data: got.data } }
          : {
              type: 'status',
              id: `artifact-${ref.fileId}`,
              message: `could not fetch ${ref.filename}: ${got.error}`,
              inProgress: false,
              ok: false,
            },
      );
    }
    if (mapper.usage) call.emit({ type: 'usage', usage: mapper.usage });
    return mapper.finish;
  }

  async #fetchContainerFile(
    ref: ContainerFileRef,
    signal: AbortSignal,
  ): Promise<{ data: Uint8Array } | { error: string }> {
    try {
      const res = await this.client.containers.files.content.retrieve(
        ref.fileId,
        { container_id: ref.containerId },
        { signal },
      );
      return await readCapped(res, this.maxArtifactBytes);
    } catch (e) {
      if (signal.aborted) throw e;
      return { error: e instanceof Error ? e.message : String(e) };
    }
  }

  protected params(request: ProviderChatRequest): ChatCompletionCreateParamsStreaming {
    return buildOpenAiParams(request);
  }

  async embed(
    upstreamModel: string,
    inputs: string[],
    options: { dimensions?: number; signal?: AbortSignal } = {},
  ) {
    try {
      const res = await this.client.embeddings.create(
        {
          model: upstreamModel,
          input: inputs,
          ...(options.dimensions ? { dimensions: options.dimensions } : {}),
        },
        { signal: options.signal },
      );
      const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { vectors, inputTokens: res.usage?.prompt_tokens ?? 0 };
    } catch (e) {
      throw mapOpenAiError(e, false);
    }
  }
}
