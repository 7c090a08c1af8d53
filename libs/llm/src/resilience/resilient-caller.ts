import { AppError, toAppError } from '@switchboard/common';
import type { AppConfig } from '@switchboard/config';
import { Observable, type Observer, type Subscription } from 'rxjs';
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
import { UpstreamTimer } from './upstream-timeouts';

export type ResilienceSettings = AppConfig['llm']['resilience'];

/** The first token of a call reached the gateway at `at` (performance.now()). */
export interface UpstreamFirstToken {
  type: 'upstream_first_token';
  at: number;
  upstreamTtftMs: number;
  model: string;
  attempt: number;
}

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
  /** an attempt's first token reached the gateway (before the token's own event) */
  firstToken?: (ev: UpstreamFirstToken) => void;
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
    firstToken?: (ev: UpstreamFirstToken) => void,
  ): CallChain {
    return {
      firstToken,
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

  /**
   * Runs the chain from its primary model. Cold: nothing happens until
   * subscribed; unsubscribing stops the attempt in flight or the retry wait.
   * Hand-rolled instead of operators: one run holds one of these per model
   * call for as long as the answer streams.
   */
  call(chain: CallChain): Observable<ChatEvent> {
    return new Observable<ChatEvent>((out) => {
      let current: Subscription | undefined;
      let wait: NodeJS.Timeout | undefined;
      let attempts = 0;
      const start = (at: Position): void => {
        const mine = ++attempts;
        let attempt: CallAttempt;
        try {
          attempt = this.#open(chain, at.modelIdx);
        } catch (e: unknown) {
          // the model cannot start (circuit open, prompt too long): maybe a fallback can
          const err = toAppError(e);
          if (skipsToFallback(err, at.modelIdx, chain.plan.length))
            start({ modelIdx: at.modelIdx + 1, retry: 0 });
          else out.error(err);
          return;
        }
        const sub = this.#stream(chain, attempt, {
          next: (ev) => out.next(ev),
          error: (e) => {
            const err = toAppError(e);
            const next = this.#failed(chain, at, attempt, err);
            if (!next) out.error(err);
            else if (next.waitMs > 0)
              wait = setTimeout(() => {
                wait = undefined;
                start(next.at);
              }, next.waitMs);
            else start(next.at);
          },
          complete: () => out.complete(),
        });
        // an attempt that failed at once may already have started the next one
        if (mine === attempts) current = sub;
      };
      start({ modelIdx: 0, retry: 0 });
      return () => {
        clearTimeout(wait);
        current?.unsubscribe();
      };
    });
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

  /**
   * One attempt: the provider's stream under the first-token and idle limits,
   * tracked into `attempt` (usage, finish, output so far) on the way through.
   * Runs per token, so no operators and no per-event allocations.
   */
  #stream(
    chain: CallChain,
    attempt: CallAttempt,
    out: Required<Observer<ChatEvent>>,
  ): Subscription {
    const { request, flow } = chain;
    const model = attempt.model;
    const call = { ...request.params, messages: request.messages };
    // a whole answer has no first token before the end: one limit for the call
    const whole = chain.whole === true && this.llm.answersWhole(model, call);
    const wholeMs = model.wholeTimeoutMs ?? this.settings.wholeTimeoutMs;
    const timer = new UpstreamTimer(
      whole ? wholeMs : (model.ttftTimeoutMs ?? this.settings.ttftTimeoutMs),
      whole ? wholeMs : (model.idleTimeoutMs ?? this.settings.idleTimeoutMs),
      flow,
      // fires from a timer, after `upstream` below is set
      (e) => {
        upstream.unsubscribe();
        out.error(e);
      },
    );
    const upstream = this.llm.stream(model, call, { flow, whole }).subscribe({
      next: (ev) => {
        timer.seen();
        // a hosted tool's progress (code running) counts: the call is under way
        if (
          !attempt.produced &&
          (ev.type === 'text' || ev.type === 'tool_call' || ev.type === 'status')
        )
          chain.firstToken?.(this.#firstToken(attempt));
        if (ev.type === 'text') attempt.outputText += ev.text;
        else if (ev.type === 'tool_call') attempt.toolArgChars += ev.argumentsDelta?.length ?? 0;
        else if (ev.type === 'usage') {
          attempt.usage = ev.usage;
          attempt.reported = true;
          return;
        } else if (ev.type === 'finish') attempt.finishReason = ev.reason;
        out.next(ev);
      },
      error: (e: unknown) => {
        timer.stop();
        out.error(e);
      },
      complete: () => {
        timer.stop();
        attempt.status = 'complete';
        out.complete();
      },
    });
    upstream.add(() => timer.stop());
    return upstream;
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

  /**
   * An upstream call failed: where to retry or fall back, and after how long;
   * undefined to give up (always once output left).
   */
  #failed(
    chain: CallChain,
    at: Position,
    attempt: CallAttempt,
    err: AppError,
  ): { at: Position; waitMs: number } | undefined {
    attempt.status = 'error';
    attempt.errorCode = err.code;
    if (attempt.produced || !isRetryable(err)) return undefined;
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
      return { at: { modelIdx: at.modelIdx, retry: at.retry + 1 }, waitMs: step.waitMs };
    if (step.kind === 'fallback') return { at: { modelIdx: at.modelIdx + 1, retry: 0 }, waitMs: 0 };
    return undefined;
  }
}
