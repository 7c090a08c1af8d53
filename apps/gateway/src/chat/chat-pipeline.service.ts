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
  type FinishReason,
} from '@switchboard/llm';
import { ChatTraces } from '@switchboard/observability';
import {
  Observable,
  filter,
  type Subscriber,
  catchError,
  concat,
  defer,
  finalize,
  from,
  of,
  switchMap,
  takeUntil,
  mergeMap,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { costMicros, worstCaseCostMicros } from '@switchboard/billing';
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
import { SpendControl, type Admission } from '@switchboard/billing';
import { ChatContextService } from './chat-context.service';
import { AssistantRegistry, type ModelCaller } from '@switchboard/assistants';

/** One upstream call: its own usage, status and ledger row. */
class Attempt {
  usage: TokenUsage = { ...ZERO_USAGE };
  reported = false;
  outputText = '';
  toolArgChars = 0;
  upstreamTtftMs?: number;
  status: RunStatus = 'cancelled';
  errorCode?: AppError['code'];
  finishReason?: FinishReason;
  recorded = false;
  readonly startedAt = performance.now();

  constructor(
    readonly number: number,
    readonly model: ServedModel,
    readonly provider: string,
    readonly promptEstimate: number,
    /** hosted code-interpreter containers the call opens when it reports no usage */
    readonly codeSessions = 0,
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
            ...(this.codeSessions > 0 ? { codeInterpreterSessions: this.codeSessions } : {}),
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

/** One model call's retry and fallback chain: what every attempt of it shares. */
interface CallChain {
  input: ChatRunInput;
  control: RunControl;
  /** the model, then its served fallbacks */
  plan: ServedModel[];
  promptEstimate: number;
  /** performance.now() after which no retry or fallback starts */
  deadline: number;
  /** every upstream call of the request, in order */
  attempts: Attempt[];
  record: (a: Attempt) => void;
}

/** The request's usage: every upstream call added up, reported as the answering model. */
function totalOf(attempts: Attempt[], requestId: string): RunSummary | undefined {
  const last = attempts[attempts.length - 1];
  if (!last) return undefined;
  const summaries = attempts.map((a) => a.summary(requestId));
  const s = summaries[summaries.length - 1];
  const usage = { ...ZERO_USAGE };
  let cost = 0;
  for (const x of summaries) {
    usage.inputTokens += x.usage.inputTokens;
    usage.cachedInputTokens += x.usage.cachedInputTokens;
    usage.outputTokens += x.usage.outputTokens;
    usage.reasoningTokens += x.usage.reasoningTokens;
    if (x.usage.codeInterpreterSessions)
      usage.codeInterpreterSessions =
        (usage.codeInterpreterSessions ?? 0) + x.usage.codeInterpreterSessions;
    cost += x.costMicros;
  }
  return {
    ...s,
    usage,
    costMicros: cost,
    usageReported: summaries.every((x) => x.usageReported),
    calls: summaries.length,
  };
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
    private readonly context: ChatContextService,
    private readonly assistants: AssistantRegistry,
    private readonly traces: ChatTraces,
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
      code:
        'model_not_found' | 'invalid_request' | 'unsupported_parameter' | 'unsupported_capability',
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
    for (const t of p.hostedTools ?? [])
      if (!model.capabilities.includes(t.type))
        fail('unsupported_capability', `${model.id} does not offer hosted ${t.type}.`, 'model');
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
      /** the run answered in full: nothing is left to abort */
      let ended = false;
      let accountId = input.accountId;
      let firstTokenSeen = false;
      let sink: Pick<Subscriber<PipelineEvent>, 'next'> | undefined;
      const abort = new AbortController();
      const stop$ = control.stop$.pipe(tap((c) => (stopCode = c)));
      const record = (a: Attempt) => {
        if (a.recorded) return;
        a.recorded = true;
        this.usage.record(
          a.summary(input.requestId),
          input.principal,
          accountId,
          input.clientRequestId,
        );
      };

      // Every model call an assistant makes: retries, fallbacks, timeouts, one
      // ledger row per upstream call under this request id.
      const caller: ModelCaller = {
        call: (modelId, messages, params) =>
          defer(() => {
            const sub: ChatRunInput = { ...input, modelId, messages, params };
            const plan = this.#plan(sub);
            const estimate = estimatePromptTokens(messages, params.tools);
            const deadline = performance.now() + this.config.llm.resilience.retryDeadlineMs;
            const chain: CallChain = {
              input: sub,
              control,
              plan,
              promptEstimate: estimate,
              deadline,
              attempts,
              record,
            };
            return this.#attempt(chain, 0, 0);
          }).pipe(
            (source: Observable<PipelineEvent>) =>
              new Observable<ChatEvent>((out) =>
                source.subscribe({
                  next: (ev) => {
                    if (ev.type === 'upstream_first_token') {
                      if (!firstTokenSeen) {
                        firstTokenSeen = true;
                        sink?.next(ev);
                      }
                    } else if (ev.type !== 'end' && ev.type !== 'error' && ev.type !== 'admitted')
                      out.next(ev);
                  },
                  error: (e: unknown) => out.error(e),
                  complete: () => out.complete(),
                }),
              ),
          ),
      };

      const upstream$ = defer(async () => {
        const primary = this.prepare(input);
        const docs = this.context.documentAccess(input.principal);
        const prepared = await this.context.prepare({
          principal: input.principal,
          model: primary,
          messages: input.messages,
          maxTokens: input.params.maxTokens,
          refs: input.dataSources ?? [],
          ragOnly: input.ragOnly,
          skipRag: input.skipRag,
          assistantId: input.assistantId,
          signal: abort.signal,
        });
        const runContext = {
          requestId: input.requestId,
          principal: input.principal,
          modelId: input.modelId,
          messages: prepared.messages,
          params: input.params,
          documents: prepared.documents,
          docs,
          artifacts: this.context.artifactStore(input.principal),
        };
        const assistant = await this.assistants.select(runContext, input.assistantId);
        const calls = assistant.plan?.(runContext) ?? [
          {
            modelId: input.modelId,
            promptTokens: estimatePromptTokens(prepared.messages, input.params.tools),
            maxOutputTokens: input.params.maxTokens ?? primary.maxOutputTokens,
          },
        ];
        const a = await this.spend.admit({
          requestId: input.requestId,
          clientRequestId: input.clientRequestId,
          principal: input.principal,
          accountId: input.accountId,
          holdMicros: this.#holdFor(input, calls),
          estimatedTokens:
            calls.reduce((n, c) => n + c.promptTokens, 0) + (input.params.maxTokens ?? 0),
        });
        // A client that left while admission was pending must not leak the hold.
        if (disposed) a.finish(0, 0);
        else admission = a;
        accountId = a.accountId;
        return { prepared, assistant, runContext, headers: a.headers };
      }).pipe(
        switchMap(({ prepared, assistant, runContext, headers }) => {
          const admitted: PipelineEvent = { type: 'admitted', headers };
          // Status and state frames wait for the first upstream token: until then a
          // failure can still be answered with a real HTTP status.
          const answer$ = new Observable<PipelineEvent>((out) => {
            let held: PipelineEvent[] | undefined = [...prepared.events];
            const release = () => {
              const h = held;
              held = undefined;
              for (const e of h ?? []) out.next(e);
            };
            sink = {
              next: (ev: PipelineEvent) => {
                out.next(ev);
                release();
              },
            };
            const s = assistant
              .run({ ...runContext, caller, signal: abort.signal })
              // the ledger has every call's usage; the assistant's summary is not needed
              .pipe(filter((ev) => ev.type !== 'usage'))
              .subscribe({
                next: (ev) => {
                  if (held && (ev.type === 'state' || ev.type === 'status')) held.push(ev);
                  else {
                    release();
                    out.next(ev);
                  }
                },
                error: (e: unknown) => {
                  held = undefined;
                  out.error(e);
                },
                complete: () => {
                  release();
                  out.complete();
                },
              });
            return () => {
              sink = undefined;
              s.unsubscribe();
            };
          });
          return concat(of(admitted), answer$);
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
        return [{ type: 'end', summary: totalOf(attempts, input.requestId)! }];
      };

      return concat(
        upstream$.pipe(
          catchError((e: unknown) => {
            failed = toAppError(e);
            const ev: PipelineEvent = { type: 'error', error: failed };
            return of(ev);
          }),
        ),
        defer(async () => {
          // a stop or a failure may leave work that only listens to the signal
          ended = !stopCode && !failed;
          const events: PipelineEvent[] = stopCode
            ? [{ type: 'error', error: new AppError(stopCode) }]
            : [];
          // The client's request id is free before the end frame leaves, so a
          // client that saw the end can reuse it at once (the release is bounded).
          if (admission) await releaseWithin(admission.releaseRequestId(), RELEASE_WAIT_MS);
          return [...events, ...endOf()];
        }).pipe(mergeMap((evs) => from(evs))),
      ).pipe(
        // Runs once on complete, error or unsubscribe (client gone): an attempt
        // still open here was cancelled.
        finalize(() => {
          disposed = true;
          // Aborting allocates a DOMException; a run that answered in full has nothing running.
          if (!ended) abort.abort();
          attempts.forEach(record);
          const total = totalOf(attempts, input.requestId);
          if (this.traces.enabled) this.#trace(input, attempts, total, failed ?? stopCode);
          admission?.finish(
            total?.costMicros ?? 0,
            total ? total.usage.inputTokens + total.usage.outputTokens : 0,
          );
        }),
      );
    });
  }

  /** Traces the run once it ended (OTEL_TRACES_ENABLED): real start and end times. */
  #trace(
    input: ChatRunInput,
    attempts: Attempt[],
    total: RunSummary | undefined,
    stopped: AppError | StopCode | undefined,
  ): void {
    const epoch = (at: number) => performance.timeOrigin + at;
    this.traces.record({
      requestId: input.requestId,
      modelId: input.modelId,
      assistantId: input.assistantId,
      startedAt: epoch(input.receivedAt),
      endedAt: epoch(performance.now()),
      status:
        stopped instanceof AppError
          ? 'error'
          : stopped
            ? 'cancelled'
            : (total?.status ?? 'complete'),
      errorCode: stopped instanceof AppError ? stopped.code : stopped,
      calls: attempts.map((a) => {
        const s = a.summary(input.requestId);
        return {
          providerKind: a.model.provider,
          modelId: a.model.id,
          upstreamModel: a.model.upstreamModel,
          attempt: a.number,
          startedAt: epoch(a.startedAt),
          durationMs: s.durationMs,
          status: s.status,
          errorCode: s.errorCode,
          finishReason: a.finishReason,
          usage: s.usage,
          usageReported: s.usageReported,
          costMicros: s.costMicros,
          upstreamTtftMs: s.upstreamTtftMs,
        };
      }),
    });
  }

  /** The budget hold: every planned call at the dearest model of its fallback chain. */
  #holdFor(
    input: ChatRunInput,
    calls: Array<{
      modelId: string;
      promptTokens: number;
      maxOutputTokens: number;
      codeInterpreterSessions?: number;
    }>,
  ): number {
    let total = 0;
    for (const c of calls) {
      let dearest = 0;
      for (const m of this.#plan({ ...input, modelId: c.modelId }))
        dearest = Math.max(
          dearest,
          worstCaseCostMicros(
            c.promptTokens,
            Math.min(c.maxOutputTokens, m.maxOutputTokens),
            m.pricing,
            c.codeInterpreterSessions,
          ),
        );
      total += dearest;
    }
    return total;
  }

  #attempt(chain: CallChain, modelIdx: number, retry: number): Observable<PipelineEvent> {
    const { input, control, plan, promptEstimate, attempts, record } = chain;
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
      // OpenAI opens a billed container per call offering the tool; Gemini bills tokens only
      const codeSessions =
        model.provider !== 'gemini' &&
        input.params.hostedTools?.some((t) => t.type === 'code_interpreter')
          ? 1
          : 0;
      const attempt = new Attempt(
        attempts.length + 1,
        model,
        provider,
        promptEstimate,
        codeSessions,
      );
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
                  // a hosted tool's progress (code running) counts: the call is under way
                  if (
                    !attempt.produced &&
                    (ev.type === 'text' || ev.type === 'tool_call' || ev.type === 'status')
                  ) {
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
                  } else if (ev.type === 'finish') attempt.finishReason = ev.reason;
                  sub.next(ev);
                },
                error: (e: unknown) => sub.error(e),
                complete: () => {
                  attempt.status = 'complete';
                  sub.complete();
                },
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
            return this.#next(chain, modelIdx, retry, err);
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
        return this.#attempt(chain, modelIdx + 1, 0);
      }),
    );
  }

  #next(
    chain: CallChain,
    modelIdx: number,
    retry: number,
    err: UpstreamError,
  ): Observable<PipelineEvent> {
    const { plan, deadline } = chain;
    const r = this.config.llm.resilience;
    const wait = backoffMs(retry, err.extra.retryAfterSeconds);
    const fitsDeadline = performance.now() + wait < deadline;
    if (retry < r.maxRetries && fitsDeadline)
      return timer(wait).pipe(switchMap(() => this.#attempt(chain, modelIdx, retry + 1)));
    if (modelIdx + 1 < plan.length && performance.now() < deadline)
      return this.#attempt(chain, modelIdx + 1, 0);
    return throwError(() => err);
  }
}

/** How long the end frame may wait for the client's request id to be released. */
const RELEASE_WAIT_MS = 1000;

function releaseWithin(release: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    release,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
