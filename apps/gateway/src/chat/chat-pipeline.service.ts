import { Inject, Injectable } from '@nestjs/common';
import { AppError, toAppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import {
  CircuitBreaker,
  LlmService,
  UpstreamError,
  ZERO_USAGE,
  backoffMs,
  estimatePromptTokens,
  estimateTextTokens,
  isUpstreamError,
  type ChatEvent,
  type ServedModel,
  type TokenUsage,
} from '@switchboard/llm';
import {
  Observable,
  catchError,
  concat,
  defer,
  finalize,
  from,
  of,
  switchMap,
  takeUntil,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { costMicros } from '@switchboard/billing';
import { UsageRecorder } from '../usage/usage-recorder.service';
import type {
  ChatRunInput,
  PipelineEvent,
  RunControl,
  RunStatus,
  RunSummary,
  StopCode,
} from './chat-run.types';
import { upstreamTimeouts } from './upstream-timeouts';
import { SpendControl, type Admission } from './spend-control.service';

/** One upstream call: its own usage, status and ledger row. */
class Attempt {
  usage: TokenUsage = { ...ZERO_USAGE };
  reported = false;
  outputText = '';
  toolArgChars = 0;
  upstreamTtftMs?: number;
  status: RunStatus = 'cancelled';
  errorCode?: AppError['code'];
  recorded = false;
  readonly startedAt = performance.now();

  constructor(
    readonly number: number,
    readonly model: ServedModel,
    readonly provider: string,
    readonly promptEstimate: number,
  ) {}

  get produced(): boolean {
    return this.upstreamTtftMs !== undefined;
  }

  summary(requestId: string): RunSummary {
    // Providers report usage at the end; a partial or failed call is estimated.
    const usage = this.reported
      ? this.usage
      : !this.produced && this.status === 'error'
        ? { ...ZERO_USAGE }
        : {
            inputTokens: this.promptEstimate,
            cachedInputTokens: 0,
            outputTokens: estimateTextTokens(this.outputText) + Math.ceil(this.toolArgChars / 4),
            reasoningTokens: 0,
          };
    return {
      requestId,
      model: this.model.id,
      provider: this.provider,
      attempt: this.number,
      usage,
      costMicros: costMicros(usage, this.model.pricing),
      status: this.status,
      usageReported: this.reported,
      upstreamTtftMs:
        this.upstreamTtftMs === undefined ? undefined : Math.round(this.upstreamTtftMs),
      durationMs: Math.round(performance.now() - this.startedAt),
      errorCode: this.errorCode,
    };
  }
}

/**
 * One chat request from validated input to the end frame: resolve the model,
 * call the provider with retries and fallbacks before the first token, account
 * for every upstream call exactly once. Returned cold; all async work happens on
 * subscription, and unsubscribing aborts the upstream call.
 */
@Injectable()
export class ChatPipeline {
  readonly breaker: CircuitBreaker;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly llm: LlmService,
    private readonly usage: UsageRecorder,
    private readonly spend: SpendControl,
  ) {
    const r = config.llm.resilience;
    this.breaker = new CircuitBreaker(r.breakerThreshold, r.breakerCooldownMs);
  }

  /** Resolves and validates synchronously so bad requests fail before streaming. */
  prepare(input: ChatRunInput): ServedModel {
    const model = this.llm.resolve(input.modelId);
    this.#check(model, input, true);
    return model;
  }

  #check(model: ServedModel, input: ChatRunInput, primary: boolean): void {
    const p = input.params;
    const fail = (
      code: 'model_not_found' | 'invalid_request' | 'unsupported_parameter',
      msg: string,
      param: string,
    ) => {
      throw new AppError(code, msg, { param });
    };
    if (!model.capabilities.includes('chat'))
      fail('model_not_found', `The model "${model.id}" is not a chat model.`, 'model');
    if (p.maxTokens !== undefined && p.maxTokens > model.maxOutputTokens && primary)
      fail(
        'invalid_request',
        `max_tokens must be at most ${model.maxOutputTokens} for ${model.id}.`,
        'max_tokens',
      );
    if (p.tools?.length && !model.capabilities.includes('tools'))
      fail('unsupported_parameter', `${model.id} does not support tools.`, 'tools');
    if (p.responseFormat?.type === 'json_schema' && !model.capabilities.includes('json_schema'))
      fail(
        'unsupported_parameter',
        `${model.id} does not support json_schema output.`,
        'response_format',
      );
    if (p.reasoningEffort && !model.capabilities.includes('reasoning'))
      fail(
        'unsupported_parameter',
        `${model.id} does not support reasoning_effort.`,
        'reasoning_effort',
      );
    if (!primary && p.maxTokens !== undefined && p.maxTokens > model.maxOutputTokens)
      fail('invalid_request', 'fallback cannot honour max_tokens', 'max_tokens');
    const hasImages = input.messages.some(
      (m) => typeof m.content !== 'string' && m.content.some((c) => c.type === 'image'),
    );
    if (hasImages && !model.capabilities.includes('vision'))
      fail('unsupported_parameter', `${model.id} does not accept images.`, 'messages');
  }

  /** Primary model then its served fallbacks that can take this request. */
  #plan(input: ChatRunInput): ServedModel[] {
    const primary = this.prepare(input);
    const plan = [primary];
    for (const id of primary.fallbacks ?? []) {
      try {
        const m = this.llm.resolve(id);
        this.#check(m, input, false);
        plan.push(m);
      } catch {
        // a fallback that is not served or cannot take this request is skipped
      }
    }
    return plan;
  }

  run(input: ChatRunInput, control: RunControl): Observable<PipelineEvent> {
    return defer(() => {
      const attempts: Attempt[] = [];
      let stopCode: StopCode | undefined;
      let failed: AppError | undefined;
      let admission: Admission | undefined;
      let disposed = false;
      let accountId = input.accountId;
      const stop$ = control.stop$.pipe(tap((c) => (stopCode = c)));
      const record = (a: Attempt) => {
        if (a.recorded) return;
        a.recorded = true;
        this.usage.record(a.summary(input.requestId), input.principal, accountId);
      };

      const upstream$ = defer(async () => {
        const plan = this.#plan(input);
        const promptEstimate = estimatePromptTokens(input.messages, input.params.tools);
        const a = await this.spend.admit({
          requestId: input.requestId,
          principal: input.principal,
          accountId: input.accountId,
          plan,
          promptEstimate,
          maxTokens: input.params.maxTokens,
        });
        // A client that left while admission was pending must not leak the hold.
        if (disposed) a.finish(0, 0);
        else admission = a;
        accountId = a.accountId;
        return { plan, promptEstimate, headers: a.headers };
      }).pipe(
        switchMap(({ plan, promptEstimate, headers }) => {
          const deadline = performance.now() + this.config.llm.resilience.retryDeadlineMs;
          const admitted: PipelineEvent = { type: 'admitted', headers };
          return concat(
            of(admitted),
            this.#attempt(input, control, plan, 0, 0, promptEstimate, deadline, attempts, record),
          );
        }),
        takeUntil(stop$),
      );

      const endOf = (): PipelineEvent[] => {
        const last = attempts[attempts.length - 1];
        if (!last) return [];
        if (stopCode) {
          last.status = 'cancelled';
          last.errorCode = stopCode;
        } else if (failed) {
          last.status = 'error';
          last.errorCode = failed.code;
        } else last.status = 'complete';
        return [{ type: 'end', summary: last.summary(input.requestId) }];
      };

      return concat(
        upstream$.pipe(
          catchError((e: unknown) => {
            failed = toAppError(e);
            const ev: PipelineEvent = { type: 'error', error: failed };
            return of(ev);
          }),
        ),
        defer(() => {
          const events: PipelineEvent[] = stopCode
            ? [{ type: 'error', error: new AppError(stopCode) }]
            : [];
          return from([...events, ...endOf()]);
        }),
      ).pipe(
        // Runs once on complete, error or unsubscribe (client gone): an attempt
        // still open here was cancelled.
        finalize(() => {
          disposed = true;
          attempts.forEach(record);
          let cost = 0;
          let tokens = 0;
          for (const a of attempts) {
            const u = a.summary(input.requestId);
            cost += u.costMicros;
            tokens += u.usage.inputTokens + u.usage.outputTokens;
          }
          admission?.finish(cost, tokens);
        }),
      );
    });
  }

  #attempt(
    input: ChatRunInput,
    control: RunControl,
    plan: ServedModel[],
    modelIdx: number,
    retry: number,
    promptEstimate: number,
    deadline: number,
    attempts: Attempt[],
    record: (a: Attempt) => void,
  ): Observable<PipelineEvent> {
    const model = plan[modelIdx];
    const provider = this.llm.providerFor(model).name;
    const r = this.config.llm.resilience;
    let called = false;
    return defer(() => {
      if (promptEstimate + (input.params.maxTokens ?? 0) > model.contextWindow)
        throw new AppError(
          'context_length_exceeded',
          `The prompt is about ${promptEstimate} tokens; ${model.id} accepts ${model.contextWindow} including the answer.`,
          { param: 'messages' },
        );
      if (!this.breaker.allow(provider))
        throw new UpstreamError('upstream_unavailable', `circuit open for ${provider}`, true);
      const attempt = new Attempt(attempts.length + 1, model, provider, promptEstimate);
      attempts.push(attempt);
      called = true;
      return this.llm
        .stream(model, { ...input.params, messages: input.messages }, { flow: control.flow })
        .pipe(
          upstreamTimeouts<ChatEvent>(
            model.ttftTimeoutMs ?? r.ttftTimeoutMs,
            model.idleTimeoutMs ?? r.idleTimeoutMs,
            control.flow,
          ),
          (source: Observable<ChatEvent>) =>
            // Hand-rolled: this runs per token, so no per-event allocations.
            new Observable<PipelineEvent>((sub) =>
              source.subscribe({
                next: (ev) => {
                  if (!attempt.produced && (ev.type === 'text' || ev.type === 'tool_call')) {
                    const at = performance.now();
                    attempt.upstreamTtftMs = at - attempt.startedAt;
                    this.breaker.success(provider);
                    sub.next({
                      type: 'upstream_first_token',
                      at,
                      upstreamTtftMs: attempt.upstreamTtftMs,
                      model: model.id,
                      attempt: attempt.number,
                    });
                  }
                  if (ev.type === 'text') attempt.outputText += ev.text;
                  else if (ev.type === 'tool_call')
                    attempt.toolArgChars += ev.argumentsDelta?.length ?? 0;
                  else if (ev.type === 'usage') {
                    attempt.usage = ev.usage;
                    attempt.reported = true;
                    return;
                  }
                  sub.next(ev);
                },
                error: (e: unknown) => sub.error(e),
                complete: () => sub.complete(),
              }),
            ),
          catchError((e: unknown) => {
            const err = toAppError(e);
            attempt.status = 'error';
            attempt.errorCode = err.code;
            // Never retry or fall back once text reached the client.
            if (attempt.produced || !isUpstreamError(err) || !err.retryable)
              return throwError(() => err);
            this.breaker.failure(provider);
            record(attempt);
            return this.#next(
              input,
              control,
              plan,
              modelIdx,
              retry,
              promptEstimate,
              deadline,
              attempts,
              record,
              err,
            );
          }),
        );
    }).pipe(
      catchError((e: unknown) => {
        // Failures before any upstream call (context window, open circuit) move on too.
        // Errors from an upstream call were already handled (retried or final) above.
        const err = toAppError(e);
        if (
          called ||
          !(err.code === 'context_length_exceeded' || (isUpstreamError(err) && err.retryable))
        )
          return throwError(() => err);
        if (modelIdx + 1 >= plan.length) return throwError(() => err);
        return this.#attempt(
          input,
          control,
          plan,
          modelIdx + 1,
          0,
          promptEstimate,
          deadline,
          attempts,
          record,
        );
      }),
    );
  }

  #next(
    input: ChatRunInput,
    control: RunControl,
    plan: ServedModel[],
    modelIdx: number,
    retry: number,
    promptEstimate: number,
    deadline: number,
    attempts: Attempt[],
    record: (a: Attempt) => void,
    err: UpstreamError,
  ): Observable<PipelineEvent> {
    const r = this.config.llm.resilience;
    const wait = backoffMs(retry, err.extra.retryAfterSeconds);
    const fitsDeadline = performance.now() + wait < deadline;
    if (retry < r.maxRetries && fitsDeadline)
      return timer(wait).pipe(
        switchMap(() =>
          this.#attempt(
            input,
            control,
            plan,
            modelIdx,
            retry + 1,
            promptEstimate,
            deadline,
            attempts,
            record,
          ),
        ),
      );
    if (modelIdx + 1 < plan.length && performance.now() < deadline)
      return this.#attempt(
        input,
        control,
        plan,
        modelIdx + 1,
        0,
        promptEstimate,
        deadline,
        attempts,
        record,
      );
    return throwError(() => err);
  }
}
