import { Body, Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { costMicros, worstCaseCostMicros } from '@switchboard/billing';
import { AppError, toAppError, type ErrorCode } from '@switchboard/common';
import {
  LlmService,
  UpstreamError,
  estimateTextTokens,
  type EmbeddingResult,
  type ServedModel,
  type TokenUsage,
} from '@switchboard/llm';
import type { Principal } from '@switchboard/auth';
import type { Response } from 'express';
import { RequireScope, ScopesGuard } from '../auth/scopes.guard';
import { DrainState } from '../health/drain-state';
import { parseBody } from '../http/parse-body';
import type { GatewayRequest } from '../http/request.types';
import { requestIdentity, setIdentityHeaders } from '../http/request-identity';
import { SpendControl, type Admission } from '@switchboard/billing';
import type { RunStatus } from '@switchboard/chat';
import { UsageRecorder } from '@switchboard/chat';
import { embeddingInputs, embeddingsBodySchema } from './embeddings-request.schema';
import { ApiDoc } from '../openapi/api-doc.decorator';
import { embeddingsSchema } from '../openapi/response.schemas';
import { CurrentPrincipal } from '../http/principal.decorator';

/** An embedding is one upstream call; the ledger numbers a request's calls from 1. */
const ATTEMPT = 1;

/** OpenAI's `base64` encoding: the vector as little-endian float32 bytes. */
export function float32Base64(vector: readonly number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i], i * 4);
  return buf.toString('base64');
}

function inputUsage(inputTokens: number): TokenUsage {
  return { inputTokens, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}

/**
 * `POST /v1/embeddings`, following the OpenAI API so its clients work unchanged,
 * for every provider whose adapter can embed (batching within the provider's
 * limits is the adapter's job).
 *
 * - An unknown model is 404 `model_not_found`; a known model that cannot embed
 *   (a chat model) is 400 `unsupported_capability` on `model`: the id is right,
 *   the capability is missing, and a 404 would send the caller looking for a typo.
 * - Admission is chat's (`SpendControl`): request-id claim, rate limits, and a
 *   budget hold of the worst case (every input byte a token), settled with the
 *   provider's count.
 * - The upstream call is aborted when the client disconnects.
 * - One usage-ledger row per request (attempt 1): `complete` with the provider's
 *   token count; `error` with zero tokens (the provider refused the work);
 *   `cancelled` with the estimated input tokens, since the provider may have done
 *   the work before the disconnect reached it (as chat does for partial streams).
 */
@Controller('v1')
@UseGuards(ScopesGuard)
export class EmbeddingsController {
  constructor(
    private readonly llm: LlmService,
    private readonly spend: SpendControl,
    private readonly usage: UsageRecorder,
    private readonly drain: DrainState,
  ) {}

  @Post('embeddings')
  @ApiDoc({
    summary: 'Embeddings',
    tag: 'openai',
    body: embeddingsBodySchema,
    response: embeddingsSchema,
  })
  @HttpCode(200)
  @RequireScope('embeddings')
  async create(
    @Req() req: GatewayRequest,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) res: Response,
    @Body() body: unknown,
  ) {
    // a draining replica answers 503 before it looks at the body
    if (this.drain.draining) throw new AppError('draining', undefined, { retryAfterSeconds: 1 });
    const parsed = parseBody(embeddingsBodySchema, body);
    const model = this.llm.resolve(parsed.model);
    const provider = this.llm.providerFor(model);
    if (!model.capabilities.includes('embeddings') || !provider.embed)
      throw new AppError(
        'unsupported_capability',
        `The model "${model.id}" does not create embeddings.`,
        { param: 'model' },
      );
    const inputs = embeddingInputs(parsed);
    const identity = requestIdentity(req);
    setIdentityHeaders(res, identity);

    // 'close' fires when the response is done or the client is gone; only the latter aborts.
    const upstream = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) upstream.abort();
    };
    res.on('close', onClose);
    let admission: Admission | undefined;
    try {
      admission = await this.spend.admit({
        ...identity,
        principal,
        holdMicros: worstCaseCostMicros(worstCaseInputTokens(inputs), 0, model.pricing),
        estimatedTokens: estimateInputTokens(inputs),
      });
      for (const [k, v] of Object.entries(admission.headers)) res.setHeader(k, v);
      if (upstream.signal.aborted) throw new AppError('cancelled');
    } catch (e) {
      res.off('close', onClose);
      admission?.finish(0, 0);
      throw e;
    }

    const startedAt = performance.now();
    const account = admission.accountId;
    const settle = (call: Omit<EmbeddingCall, 'durationMs'>) => {
      const cost = this.#record(identity, principal, account, model, provider.name, {
        ...call,
        durationMs: performance.now() - startedAt,
      });
      admission.finish(cost, call.inputTokens);
    };
    let result: EmbeddingResult;
    try {
      result = await provider.embed(model.upstreamModel, inputs, {
        dimensions: parsed.dimensions,
        signal: upstream.signal,
      });
      if (result.vectors.length !== inputs.length)
        throw new UpstreamError(
          'upstream_error',
          `${inputs.length} inputs, ${result.vectors.length} embeddings`,
          false,
        );
    } catch (e) {
      const cancelled = upstream.signal.aborted;
      const err = cancelled ? new AppError('cancelled') : toAppError(e);
      settle({
        status: cancelled ? 'cancelled' : 'error',
        errorCode: err.code,
        inputTokens: cancelled ? estimateInputTokens(inputs) : 0,
      });
      throw err;
    } finally {
      res.off('close', onClose);
    }

    settle({ status: 'complete', inputTokens: result.inputTokens });
    const base64 = parsed.encoding_format === 'base64';
    return {
      object: 'list',
      data: result.vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? float32Base64(v) : v,
      })),
      model: model.id,
      usage: { prompt_tokens: result.inputTokens, total_tokens: result.inputTokens },
    };
  }

  /** the ledger row of the call; returns its cost */
  #record(
    identity: { requestId: string; clientRequestId?: string },
    principal: Principal,
    accountId: string | undefined,
    model: ServedModel,
    provider: string,
    call: EmbeddingCall,
  ): number {
    const usage = inputUsage(call.inputTokens);
    const cost = costMicros(usage, model.pricing);
    this.usage.record(
      {
        requestId: identity.requestId,
        model: model.id,
        provider,
        attempt: ATTEMPT,
        usage,
        costMicros: cost,
        status: call.status,
        usageReported: call.status === 'complete',
        durationMs: Math.round(call.durationMs),
        errorCode: call.errorCode,
      },
      principal,
      accountId,
      identity.clientRequestId,
    );
    return cost;
  }
}

interface EmbeddingCall {
  status: RunStatus;
  errorCode?: ErrorCode;
  inputTokens: number;
  durationMs: number;
}

function estimateInputTokens(inputs: string[]): number {
  let n = 0;
  for (const s of inputs) n += estimateTextTokens(s);
  return n;
}

/** No tokenizer yields more tokens than UTF-8 bytes (byte-level BPE): a true upper bound. */
function worstCaseInputTokens(inputs: string[]): number {
  let n = 0;
  for (const s of inputs) n += Buffer.byteLength(s, 'utf8');
  return n;
}
