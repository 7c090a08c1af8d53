import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseStreamOutput,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { AppError } from '@switchboard/common';
import { Observable, type Subscriber } from 'rxjs';
import type { ChatEvent, EmbeddingResult, FinishReason, ProviderChatRequest } from '../chat.types';
import type { LlmProvider, StreamOptions } from '../provider.port';
import { estimateTextTokens } from '../token-estimator';
import { UpstreamError } from '../upstream-error';
import {
  buildConverseRequest,
  finishFromBedrock,
  mapBedrockError,
  usageFromBedrock,
} from './bedrock-converse.mapper';
import { batches, mapBounded } from './batching.util';

export interface BedrockProviderOptions {
  /** configured with `maxAttempts: 1`: the gateway retries, not the SDK */
  client: BedrockRuntimeClient;
  name?: string;
  simulated?: boolean;
  /**
   * Model ids whose ConverseStream does not support tool use (AWS lists "Streaming
   * tool use: No" for Meta Llama and Mistral models); requests with tools to them
   * go through Converse and are replayed as events.
   */
  nonStreamingToolModels?: RegExp;
  /** Titan embeddings take one text per call; this many calls run at once. */
  embedConcurrency?: number;
}

const COHERE_BATCH = 96;
const STREAM_ERROR_MEMBERS = [
  'internalServerException',
  'modelStreamErrorException',
  'validationException',
  'throttlingException',
  'serviceUnavailableException',
] as const;

/**
 * Amazon Bedrock through the Converse API (Claude, Nova, Llama, Mistral, gpt-oss...
 * one request shape for all) and InvokeModel for Titan and Cohere embeddings.
 */
export class BedrockProvider implements LlmProvider {
  readonly kind = 'bedrock' as const;
  readonly name: string;
  readonly simulated: boolean;
  readonly #client: BedrockRuntimeClient;
  readonly #nonStreamingTools: RegExp;
  readonly #embedConcurrency: number;

  constructor(opts: BedrockProviderOptions) {
    this.name = opts.name ?? 'bedrock';
    this.simulated = opts.simulated ?? false;
    this.#client = opts.client;
    this.#nonStreamingTools = opts.nonStreamingToolModels ?? /(^|[.:/])(meta\.llama|mistral\.)/;
    this.#embedConcurrency = opts.embedConcurrency ?? 8;
  }

  stream(request: ProviderChatRequest, options: StreamOptions = {}): Observable<ChatEvent> {
    return new Observable<ChatEvent>((subscriber) => {
      const abort = new AbortController();
      const onOuterAbort = () => abort.abort();
      options.signal?.addEventListener('abort', onOuterAbort, { once: true });
      // Set once output was emitted: from then on a failure is not retryable.
      const state = { started: false };

      const run = async () => {
        const input = buildConverseRequest(request);
        if (input.toolConfig && this.#nonStreamingTools.test(request.upstreamModel)) {
          await this.#converse(input, abort.signal, subscriber);
          return;
        }
        const res = await this.#client.send(new ConverseStreamCommand(input), {
          abortSignal: abort.signal,
        });
        if (!res.stream)
          throw new UpstreamError(
            'upstream_error',
            'ConverseStream returned no event stream',
            true,
          );
        await this.#consume(res.stream, abort.signal, subscriber, state, options);
      };

      run().catch((e: unknown) => {
        if (abort.signal.aborted) return;
        subscriber.error(mapBedrockError(e, state.started));
      });

      return () => {
        options.signal?.removeEventListener('abort', onOuterAbort);
        abort.abort();
      };
    });
  }

  async #consume(
    stream: AsyncIterable<ConverseStreamOutput>,
    signal: AbortSignal,
    subscriber: Subscriber<ChatEvent>,
    state: { started: boolean },
    options: StreamOptions,
  ): Promise<void> {
    // Converse numbers content blocks across text and tool use; OpenAI numbers tool calls from 0.
    const toolIndex = new Map<number, number>();
    const toolIndexOf = (block: number): number => {
      let i = toolIndex.get(block);
      if (i === undefined) toolIndex.set(block, (i = toolIndex.size));
      return i;
    };
    let finish: FinishReason | undefined;
    for await (const ev of stream) {
      if (signal.aborted) return;
      for (const member of STREAM_ERROR_MEMBERS) {
        const err = ev[member] as { message?: string } | undefined;
        // An exception event: classified like the thrown exception of the same name.
        if (err)
          throw Object.assign(new Error(err.message ?? member), {
            name: member[0].toUpperCase() + member.slice(1),
          });
      }
      if (ev.contentBlockStart?.start?.toolUse) {
        const start = ev.contentBlockStart.start.toolUse;
        state.started = true;
        subscriber.next({
          type: 'tool_call',
          index: toolIndexOf(ev.contentBlockStart.contentBlockIndex ?? 0),
          id: start.toolUseId,
          name: start.name,
        });
      } else if (ev.contentBlockDelta?.delta) {
        const delta = ev.contentBlockDelta.delta;
        if (delta.text) {
          state.started = true;
          subscriber.next({ type: 'text', text: delta.text });
        } else if (delta.toolUse?.input) {
          state.started = true;
          subscriber.next({
            type: 'tool_call',
            index: toolIndexOf(ev.contentBlockDelta.contentBlockIndex ?? 0),
            argumentsDelta: delta.toolUse.input,
          });
        }
        // reasoningContent deltas are the model's thinking, not part of the answer.
      } else if (ev.messageStop) {
        finish = finishFromBedrock(ev.messageStop.stopReason);
      } else if (ev.metadata?.usage) {
        subscriber.next({ type: 'usage', usage: usageFromBedrock(ev.metadata.usage) });
      }
      const wait = options.flow?.ready(signal);
      if (wait) await wait;
    }
    if (signal.aborted) return;
    if (finish === undefined)
      throw new UpstreamError('upstream_disconnected', 'stream ended without messageStop', false);
    subscriber.next({ type: 'finish', reason: finish });
    subscriber.complete();
  }

  /** One Converse call, replayed as the events a stream would have produced. */
  async #converse(
    input: ReturnType<typeof buildConverseRequest>,
    signal: AbortSignal,
    subscriber: Subscriber<ChatEvent>,
  ): Promise<void> {
    const res = await this.#client.send(new ConverseCommand(input), { abortSignal: signal });
    if (signal.aborted) return;
    let tools = 0;
    for (const block of res.output?.message?.content ?? []) {
      if (block.text) subscriber.next({ type: 'text', text: block.text });
      else if (block.toolUse)
        subscriber.next({
          type: 'tool_call',
          index: tools++,
          id: block.toolUse.toolUseId,
          name: block.toolUse.name,
          argumentsDelta: JSON.stringify(block.toolUse.input ?? {}),
        });
    }
    if (res.usage) subscriber.next({ type: 'usage', usage: usageFromBedrock(res.usage) });
    subscriber.next({ type: 'finish', reason: finishFromBedrock(res.stopReason) });
    subscriber.complete();
  }

  async embed(
    upstreamModel: string,
    inputs: string[],
    options: { dimensions?: number; signal?: AbortSignal } = {},
  ): Promise<EmbeddingResult> {
    if (upstreamModel.includes('amazon.titan-embed'))
      return this.#titan(upstreamModel, inputs, options);
    if (upstreamModel.includes('cohere.embed')) return this.#cohere(upstreamModel, inputs, options);
    throw new AppError(
      'unsupported_capability',
      `Bedrock: ${upstreamModel} is not a supported embedding model.`,
      {
        param: 'model',
      },
    );
  }

  /** Titan Text Embeddings take one `inputText` per call and report its token count. */
  async #titan(
    model: string,
    inputs: string[],
    options: { dimensions?: number; signal?: AbortSignal },
  ) {
    const v2 = !model.includes('titan-embed-text-v1');
    if (options.dimensions !== undefined && !v2)
      throw new AppError(
        'unsupported_parameter',
        'Bedrock: Titan v1 embeddings have a fixed size.',
        { param: 'dimensions' },
      );
    const results = await mapBounded(inputs, this.#embedConcurrency, async (text) => {
      const body = v2
        ? {
            inputText: text,
            normalize: true,
            ...(options.dimensions ? { dimensions: options.dimensions } : {}),
          }
        : { inputText: text };
      const out = (await this.#invoke(model, body, options.signal)).json as {
        embedding?: number[];
        inputTextTokenCount?: number;
      };
      if (!Array.isArray(out.embedding))
        throw new UpstreamError('upstream_error', 'Titan response has no embedding', true);
      return { vector: out.embedding, tokens: out.inputTextTokenCount ?? estimateTextTokens(text) };
    });
    return {
      vectors: results.map((r) => r.vector),
      inputTokens: results.reduce((n, r) => n + r.tokens, 0),
    };
  }

  /**
   * Cohere Embed takes up to 96 texts per call. Its body carries no token count;
   * Bedrock reports it in the `x-amzn-bedrock-input-token-count` header, and the
   * gateway's estimate stands in when that header is absent.
   */
  async #cohere(
    model: string,
    inputs: string[],
    options: { dimensions?: number; signal?: AbortSignal },
  ) {
    const v4 = model.includes('embed-v4');
    if (options.dimensions !== undefined && !v4)
      throw new AppError(
        'unsupported_parameter',
        'Bedrock: Cohere Embed v3 has a fixed size of 1024.',
        { param: 'dimensions' },
      );
    const vectors: number[][] = [];
    let inputTokens = 0;
    for (const batch of batches(inputs, COHERE_BATCH)) {
      const body = {
        texts: batch,
        input_type: 'search_document',
        truncate: 'END',
        ...(v4
          ? {
              embedding_types: ['float'],
              ...(options.dimensions ? { output_dimension: options.dimensions } : {}),
            }
          : {}),
      };
      const res = await this.#invoke(model, body, options.signal);
      const out = res.json as { embeddings?: number[][] | { float?: number[][] } };
      const got = Array.isArray(out.embeddings) ? out.embeddings : out.embeddings?.float;
      if (!got || got.length !== batch.length)
        throw new UpstreamError('upstream_error', 'Cohere response does not match the batch', true);
      vectors.push(...got);
      inputTokens += res.inputTokens ?? batch.reduce((n, t) => n + estimateTextTokens(t), 0);
    }
    return { vectors, inputTokens };
  }

  async #invoke(
    model: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<{ json: unknown; inputTokens?: number }> {
    const command = new InvokeModelCommand({
      modelId: model,
      contentType: 'application/json',
      accept: 'application/json',
      body: Buffer.from(JSON.stringify(body)),
    });
    let tokenHeader: string | undefined;
    command.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const headers = (result.response as { headers?: Record<string, string> }).headers ?? {};
        for (const [k, v] of Object.entries(headers))
          if (k.toLowerCase() === 'x-amzn-bedrock-input-token-count') tokenHeader = v;
        return result;
      },
      { step: 'deserialize', name: 'switchboardInputTokenCount' },
    );
    try {
      const res = await this.#client.send(command, { abortSignal: signal });
      const tokens = tokenHeader === undefined ? NaN : Number(tokenHeader);
      return {
        json: JSON.parse(Buffer.from(res.body).toString('utf8')) as unknown,
        inputTokens: Number.isFinite(tokens) ? tokens : undefined,
      };
    } catch (e) {
      throw mapBedrockError(e, false);
    }
  }
}
