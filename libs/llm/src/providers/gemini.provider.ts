import {
  Outcome,
  type GenerateContentResponseUsageMetadata,
  type Part,
  type GoogleGenAI,
} from '@google/genai';
import { Observable, type Subscriber } from 'rxjs';
import type { ChatEvent, EmbeddingResult, FinishReason, ProviderChatRequest } from '../chat.types';
import type { LlmProvider, StreamOptions } from '../provider.port';
import { estimateTextTokens } from '../token-estimator';
import { parseRetryAfter, UpstreamError } from '../upstream-error';
import { batches } from './batching.util';
import { codeRunFinished, codeRunStarted } from './code-run-status';
import {
  buildGeminiRequest,
  finishFromGemini,
  mapGeminiError,
  usageFromGemini,
  figureName,
} from './gemini.mapper';

export interface GeminiProviderOptions {
  /** `new GoogleGenAI({ apiKey, httpOptions: { baseUrl } })`; the SDK does not retry unless told to */
  client: GoogleGenAI;
  name?: string;
  simulated?: boolean;
}

/** batchEmbedContents accepts at most 100 requests per call. */
const EMBED_BATCH = 100;

/**
 * `ApiError` carries only status and body, so each call gets a fetch that keeps
 * the Retry-After header of a failed response for the error mapping.
 */
function retryAfterCapture(): { fetch: typeof fetch; retryAfter(): number | undefined } {
  let value: number | undefined;
  return {
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      if (!res.ok) value = parseRetryAfter(res.headers.get('retry-after'));
      return res;
    },
    retryAfter: () => value,
  };
}

/** Google Gemini through `@google/genai` (generateContentStream, embedContent). */
export class GeminiProvider implements LlmProvider {
  readonly kind = 'gemini' as const;
  readonly name: string;
  readonly simulated: boolean;
  readonly #client: GoogleGenAI;

  constructor(opts: GeminiProviderOptions) {
    this.name = opts.name ?? 'gemini';
    this.simulated = opts.simulated ?? false;
    this.#client = opts.client;
  }

  stream(request: ProviderChatRequest, options: StreamOptions = {}): Observable<ChatEvent> {
    return new Observable<ChatEvent>((subscriber) => {
      const abort = new AbortController();
      const onOuterAbort = () => abort.abort();
      options.signal?.addEventListener('abort', onOuterAbort, { once: true });
      const capture = retryAfterCapture();
      // Set once output was emitted: from then on a failure is not retryable.
      let started = false;

      const run = async () => {
        const { contents, config } = buildGeminiRequest(request);
        const stream = await this.#client.models.generateContentStream({
          model: request.upstreamModel,
          contents,
          config: { ...config, abortSignal: abort.signal, httpOptions: { fetch: capture.fetch } },
        });
        const counts: PartCounts = { tools: 0, codeRuns: 0, figures: 0 };
        let reason: string | undefined;
        let blocked = false;
        let usage: GenerateContentResponseUsageMetadata | undefined;
        for await (const chunk of stream) {
          if (abort.signal.aborted) return;
          const candidate = chunk.candidates?.[0];
          for (const part of candidate?.content?.parts ?? [])
            if (emitPart(part, counts, request, subscriber)) started = true;
          if (candidate?.finishReason) reason = candidate.finishReason;
          if (chunk.promptFeedback?.blockReason) blocked = true;
          // Every chunk carries the running totals; the last one is final.
          if (chunk.usageMetadata) usage = chunk.usageMetadata;
          const wait = options.flow?.ready(abort.signal);
          if (wait) await wait;
        }
        if (abort.signal.aborted) return;
        if (reason === undefined && !blocked)
          throw new UpstreamError(
            'upstream_disconnected',
            'stream ended without finishReason',
            false,
          );
        if (usage) subscriber.next({ type: 'usage', usage: usageFromGemini(usage) });
        const finish: FinishReason =
          blocked && reason === undefined
            ? 'content_filter'
            : finishFromGemini(reason, counts.tools > 0);
        subscriber.next({ type: 'finish', reason: finish });
        subscriber.complete();
      };

      run().catch((e: unknown) => {
        if (abort.signal.aborted) return;
        subscriber.error(mapGeminiError(e, started, capture.retryAfter()));
      });

      return () => {
        options.signal?.removeEventListener('abort', onOuterAbort);
        abort.abort();
      };
    });
  }

  /**
   * Batches of at most 100 texts through batchEmbedContents. The Gemini API does
   * not report embedding token counts; when the response has no usage, the
   * gateway's estimate stands in.
   */
  async embed(
    upstreamModel: string,
    inputs: string[],
    options: { dimensions?: number; signal?: AbortSignal } = {},
  ): Promise<EmbeddingResult> {
    const vectors: number[][] = [];
    let inputTokens = 0;
    for (const batch of batches(inputs, EMBED_BATCH)) {
      const capture = retryAfterCapture();
      try {
        const res = await this.#client.models.embedContent({
          model: upstreamModel,
          contents: batch,
          config: {
            ...(options.dimensions ? { outputDimensionality: options.dimensions } : {}),
            abortSignal: options.signal,
            httpOptions: { fetch: capture.fetch },
          },
        });
        const got = (res.embeddings ?? []).map((e) => e.values ?? []);
        if (got.length !== batch.length)
          throw new UpstreamError(
            'upstream_error',
            'embedContent returned a different number of embeddings',
            true,
          );
        vectors.push(...got);
        inputTokens +=
          res.usageMetadata?.promptTokenCount ??
          batch.reduce((n, t) => n + estimateTextTokens(t), 0);
      } catch (e) {
        throw mapGeminiError(e, false, capture.retryAfter());
      }
    }
    return { vectors, inputTokens };
  }
}

interface PartCounts {
  tools: number;
  codeRuns: number;
  figures: number;
}

/** Emits what one response part carries; true when it emitted output (thoughts are not). */
function emitPart(
  part: Part,
  counts: PartCounts,
  request: ProviderChatRequest,
  subscriber: Subscriber<ChatEvent>,
): boolean {
  // Thought summaries (includeThoughts) are not part of the answer.
  if (part.thought) return false;
  let emitted = false;
  if (part.text) {
    emitted = true;
    subscriber.next({ type: 'text', text: part.text });
  }
  if (part.executableCode) {
    emitted = true;
    subscriber.next(codeRunStarted(String(++counts.codeRuns), part.executableCode.code ?? ''));
  }
  if (part.codeExecutionResult) {
    emitted = true;
    const outcome = part.codeExecutionResult.outcome;
    subscriber.next(
      codeRunFinished(String(Math.max(counts.codeRuns, 1)), {
        ok: outcome === Outcome.OUTCOME_OK,
        message: `code run ${outcome === Outcome.OUTCOME_DEADLINE_EXCEEDED ? 'timed out' : 'failed'}`,
        logs: part.codeExecutionResult.output ?? '',
      }),
    );
  }
  // figures the code drew (matplotlib) come back inline
  if (part.inlineData?.data && request.hostedTools?.length) {
    emitted = true;
    subscriber.next({
      type: 'artifact',
      artifact: {
        name: figureName(++counts.figures, part.inlineData.mimeType),
        data: Buffer.from(part.inlineData.data, 'base64'),
      },
    });
  }
  if (part.functionCall) {
    // Gemini sends each call whole, in one part; ids are optional upstream.
    emitted = true;
    const index = counts.tools++;
    subscriber.next({
      type: 'tool_call',
      index,
      id: part.functionCall.id ?? `call_${index}`,
      name: part.functionCall.name,
      argumentsDelta: JSON.stringify(part.functionCall.args ?? {}),
    });
  }
  return emitted;
}
