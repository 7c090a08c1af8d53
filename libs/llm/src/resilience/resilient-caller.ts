import { AppError, toAppError } from '@switchboard/common';
import type { AppConfig } from '@switchboard/config';
import { Observable, catchError, defer, switchMap, throwError, timer } from 'rxjs';
import type { ServedModel } from '../llm.service';
import type { ChatEvent } from '../chat.types';
import { backoffMs, CircuitBreaker } from '../circuit-breaker';
import type { FlowControl } from '../flow-control';
import type { LlmService } from '../llm.service';
import { estimatePromptTokens } from '../token-estimator';
import { UpstreamError } from '../upstream-error';
import { CallAttempt } from './call-attempt';
import {
  checkCapabilities,
  isRetryable,
  nextStep,
  planModels,
  skipsToFallback,
  type CallRequest,
} from './call-policy';
import { upstreamTimeouts } from './upstream-timeouts';

export type ResilienceSettings = AppConfig['llm']['resilience'];

/** The first token of a call reached the gateway at `at` (performance.now()). */
export interface UpstreamFirstToken {
  type: 'upstream_first_token';
  at: number;
  upstreamTtftMs: number;
  model: string;
  attempt: number;
}

export type CallEvent = ChatEvent | UpstreamFirstToken;

/** One model call's retry and fallback chain: the state every attempt of it shares. */
export interface CallChain {
  request: CallRequest;
  flow?: FlowControl;
  /** the client reads the answer whole: providers that can answer whole are asked to */
  whole?: boolean;
  /** the model, then its served fallbacks */
  plan: ServedModel[];
  promptEstimate: number;
  /** performance.now() after which no retry or fallback starts */
  deadline: number;
  /** every upstream call of the request, in order; the chain appends to it */
  attempts: CallAttempt[];
  /** books a failed attempt before the next one starts */
  record: (a: CallAttempt) => void;
}

/** Where one attempt stands in its chain. */
interface Position {
  modelIdx: number;
  retry: number;
}

/**
 * Calls a model with retries and backoff, fallbacks that can take the request,
 * a per-provider circuit breaker and first-token / idle timeouts. Retries and
 * fallbacks happen only before the first token reached the client.
 */
export class ResilientCaller {
  readonly breaker: CircuitBreaker;

  constructor(
    private readonly llm: LlmService,
    private readonly settings: ResilienceSettings,
  ) {
    this.breaker = new CircuitBreaker(settings.breakerThreshold, settings.breakerCooldownMs);
  }

  /** Resolves and validates the primary model; throws the client error. */
  prepare(modelId: string, req: CallRequest): ServedModel {
    const model = this.llm.resolve(modelId);
    checkCapabilities(model, req, true);
    return model;
  }

  /** The primary model then its served fallbacks that can take this request. */
  plan(modelId: string, req: CallRequest): ServedModel[] {
    return planModels(this.prepare(modelId, req), (id) => this.llm.resolve(id), req);
  }

  /** A chain for one model call; `attempts` is shared by every call of a request. */
  chain(
    modelId: string,
    request: CallRequest,
    attempts: CallAttempt[],
    record: (a: CallAttempt) => void,
    control: { flow?: FlowControl; whole?: boolean } = {},
  ): CallChain {
    return {
      request,
      flow: control.flow,
      whole: control.whole,
      plan: this.plan(modelId, request),
      promptEstimate: estimatePromptTokens(request.messages, request.params.tools),
      deadline: performance.now() + this.settings.retryDeadlineMs,
      attempts,
      record,
    };
  }

  /** Runs the chain from its primary model. Cold: nothing happens until subscribed. */
  call(chain: CallChain): Observable<CallEvent> {
    return this.#attempt(chain, { modelIdx: 0, retry: 0 });
  }

  #attempt(chain: CallChain, at: Position): Observable<CallEvent> {
    let called = false;
    return defer(() => {
      const attempt = this.#open(chain, at.modelIdx);
      called = true;
      return this.#stream(chain, attempt).pipe(
        catchError((e: unknown) => this.#failed(chain, at, attempt, toAppError(e))),
      );
    }).pipe(
      catchError((e: unknown) => {
        // Errors from an upstream call were already handled (retried or final).
        const err = toAppError(e);
        if (called || !skipsToFallback(err, at.modelIdx, chain.plan.length))
          return throwError(() => err);
        return this.#attempt(chain, { modelIdx: at.modelIdx + 1, retry: 0 });
      }),
    );
  }

  /** Checks the model can start now and books a new attempt on it. */
  #open(chain: CallChain, modelIdx: number): CallAttempt {
    const { request, promptEstimate, attempts } = chain;
    const model = chain.plan[modelIdx];
    const provider = this.llm.providerFor(model).name;
    if (promptEstimate + (request.params.maxTokens ?? 0) > model.contextWindow)
      throw new AppError(
        'context_length_exceeded',
        `The prompt is about ${promptEstimate} tokens; ${model.id} accepts ${model.contextWindow} including the answer.`,
        { param: 'messages' },
      );
    if (!this.breaker.allow(provider))
      throw new UpstreamError('upstream_unavailable', `circuit open for ${provider}`, true);
    // OpenAI opens a billed container per call offering the tool; Gemini bills tokens only
    const codeSessions =
      model.provider !== 'gemini' &&
      request.params.hostedTools?.some((t) => t.type === 'code_interpreter')
        ? 1
        : 0;
    const attempt = new CallAttempt(
      attempts.length + 1,
      model,
      provider,
      promptEstimate,
      codeSessions,
    );
    attempts.push(attempt);
    return attempt;
  }

  #stream(chain: CallChain, attempt: CallAttempt): Observable<CallEvent> {
    const { request, flow } = chain;
    const model = attempt.model;
    const call = { ...request.params, messages: request.messages };
    // a whole answer has no first token before the end: one limit for the call
    const whole = chain.whole === true && this.llm.answersWhole(model, call);
    const wholeMs = model.wholeTimeoutMs ?? this.settings.wholeTimeoutMs;
    return this.llm.stream(model, call, { flow, whole }).pipe(
      upstreamTimeouts<ChatEvent>(
        whole ? wholeMs : (model.ttftTimeoutMs ?? this.settings.ttftTimeoutMs),
        whole ? wholeMs : (model.idleTimeoutMs ?? this.settings.idleTimeoutMs),
        flow,
      ),
      (source: Observable<ChatEvent>) => this.#track(source, attempt),
    );
  }

  /** Hand-rolled: this runs per token, so no per-event allocations. */
  #track(source: Observable<ChatEvent>, attempt: CallAttempt): Observable<CallEvent> {
    return new Observable<CallEvent>((sub) =>
      source.subscribe({
        next: (ev) => {
          // a hosted tool's progress (code running) counts: the call is under way
          if (
            !attempt.produced &&
            (ev.type === 'text' || ev.type === 'tool_call' || ev.type === 'status')
          )
            sub.next(this.#firstToken(attempt));
          if (ev.type === 'text') attempt.outputText += ev.text;
          else if (ev.type === 'tool_call') attempt.toolArgChars += ev.argumentsDelta?.length ?? 0;
          else if (ev.type === 'usage') {
            attempt.usage = ev.usage;
            attempt.reported = true;
            return;
          } else if (ev.type === 'finish') attempt.finishReason = ev.reason;
          sub.next(ev);
        },
        error: (e: unknown) => sub.error(e),
        complete: () => {
          attempt.status = 'complete';
          sub.complete();
        },
      }),
    );
  }

  #firstToken(attempt: CallAttempt): UpstreamFirstToken {
    const at = performance.now();
    attempt.upstreamTtftMs = at - attempt.startedAt;
    this.breaker.success(attempt.provider);
    return {
      type: 'upstream_first_token',
      at,
      upstreamTtftMs: attempt.upstreamTtftMs,
      model: attempt.model.id,
      attempt: attempt.number,
    };
  }

  /** An upstream call failed: retry, fall back or give up (never once output left). */
  #failed(
    chain: CallChain,
    at: Position,
    attempt: CallAttempt,
    err: AppError,
  ): Observable<CallEvent> {
    attempt.status = 'error';
    attempt.errorCode = err.code;
    if (attempt.produced || !isRetryable(err)) return throwError(() => err);
    this.breaker.failure(attempt.provider);
    chain.record(attempt);
    const step = nextStep(err, {
      produced: false,
      retry: at.retry,
      modelIdx: at.modelIdx,
      planLength: chain.plan.length,
      waitMs: backoffMs(at.retry, err.extra.retryAfterSeconds),
      now: performance.now(),
      deadline: chain.deadline,
      maxRetries: this.settings.maxRetries,
    });
    if (step.kind === 'retry')
      return timer(step.waitMs).pipe(
        switchMap(() => this.#attempt(chain, { modelIdx: at.modelIdx, retry: at.retry + 1 })),
      );
    if (step.kind === 'fallback')
      return this.#attempt(chain, { modelIdx: at.modelIdx + 1, retry: 0 });
    return throwError(() => err);
  }
}
