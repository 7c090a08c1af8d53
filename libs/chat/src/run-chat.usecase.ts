import { Inject, Injectable } from '@nestjs/common';
import {
  AssistantRegistry,
  ChatContextService,
  type Assistant,
  type AssistantRunContext,
  type ModelCaller,
  type PreparedContext,
} from '@switchboard/assistants';
import { SpendControl, type Admission } from '@switchboard/billing';
import { AppError, toAppError } from '@switchboard/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import {
  LlmService,
  ResilientCaller,
  countCallerMessages,
  estimatePromptTokens,
  type CallAttempt,
  type UpstreamFirstToken,
} from '@switchboard/llm';
import { ChatTraces } from '@switchboard/observability';
import { Observable, Subscription, defer, type Observer } from 'rxjs';
import { ChatRunState } from './chat-run.state';
import type { ChatRunInput, PipelineEvent, RunControl } from './chat-run.types';
import { closeLast, holdMicros, summaryOf, totalOf, type PlannedCall } from './run-accounting';
import { traceRun } from './run-trace';
import { UsageRecorder } from './usage-recorder.service';

type RunContext = Omit<AssistantRunContext, 'caller' | 'signal'>;

/** What a run has set up before its answer streams. */
interface RunSetup {
  prepared: PreparedContext;
  assistant: Assistant;
  runContext: RunContext;
  headers: Record<string, string>;
}

/** How long the end frame may wait for the client's request id to be released. */
const RELEASE_WAIT_MS = 1000;

/**
 * One chat request from validated input to the end frame: prepare the context,
 * pick the assistant, admit (budget hold, rate limits), let the assistant call
 * models through the resilient caller, and account for every upstream call
 * exactly once. Returned cold; all async work happens on subscription, and
 * unsubscribing aborts the upstream call.
 */
@Injectable()
export class RunChatUseCase {
  readonly #caller: ResilientCaller;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    llm: LlmService,
    private readonly usage: UsageRecorder,
    private readonly spend: SpendControl,
    private readonly context: ChatContextService,
    private readonly assistants: AssistantRegistry,
    private readonly traces: ChatTraces,
  ) {
    this.#caller = new ResilientCaller(llm, config.llm.resilience);
  }

  /**
   * Admission headers, the assistant's answer until it ends, fails or the run
   * is stopped (an error frame for a failure), then the end frame. Hand-rolled
   * instead of operators: every open stream holds this for its whole life.
   */
  execute(input: ChatRunInput, control: RunControl): Observable<PipelineEvent> {
    return new Observable<PipelineEvent>((out) => {
      const run = new ChatRunState(input, control);
      let answer: Subscription | undefined;
      // a stop source that emits on subscription ends the run before `subscribe` returns
      const stop = new Subscription();
      let answered = false;
      const end = (): void => {
        if (answered) return;
        answered = true;
        answer?.unsubscribe();
        stop.unsubscribe();
        this.#end(run).then(
          (events) => {
            for (const ev of events) out.next(ev);
            out.complete();
          },
          (e: unknown) => out.error(e),
        );
      };
      const fail = (e: unknown): void => {
        if (answered) return;
        run.failed = toAppError(e);
        out.next({ type: 'error', error: run.failed });
        end();
      };
      // an external stop ends the answer where it is; the end frame follows
      stop.add(
        control.stop$.subscribe((code) => {
          run.stopCode ??= code;
          end();
        }),
      );
      if (!answered)
        this.#setUp(run).then((setup) => {
          if (answered || out.closed) return;
          out.next({ type: 'admitted', headers: setup.headers });
          answer = this.#stream(run, setup, {
            next: (ev) => out.next(ev),
            error: fail,
            complete: end,
          });
          if (answered) answer.unsubscribe();
        }, fail);
      // once, on the end, a failure or the client leaving
      return () => {
        answered = true;
        answer?.unsubscribe();
        stop.unsubscribe();
        this.#settle(run);
      };
    });
  }

  /** Context, assistant and admission, in that order: the hold needs the assistant's plan. */
  async #setUp(run: ChatRunState): Promise<RunSetup> {
    const { input } = run;
    // texts this user resent (system prompt, history) are counted from their recent ones
    countCallerMessages(input.principal.userId, input.messages);
    const primary = this.#caller.prepare(input.modelId, input);
    const prepared = await this.context.prepare({
      principal: input.principal,
      model: primary,
      messages: input.messages,
      maxTokens: input.params.maxTokens,
      refs: input.dataSources ?? [],
      ragOnly: input.ragOnly,
      skipRag: input.skipRag,
      assistantId: input.assistantId,
      signal: run.abort.signal,
    });
    const runContext: RunContext = {
      requestId: input.requestId,
      principal: input.principal,
      modelId: input.modelId,
      messages: prepared.messages,
      params: input.params,
      documents: prepared.documents,
      docs: this.context.documentAccess(input.principal),
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
    const admission = await this.#admit(run, calls);
    return { prepared, assistant, runContext, headers: admission.headers };
  }

  async #admit(run: ChatRunState, calls: PlannedCall[]): Promise<Admission> {
    const { input } = run;
    const a = await this.spend.admit({
      requestId: input.requestId,
      clientRequestId: input.clientRequestId,
      principal: input.principal,
      accountId: input.accountId,
      holdMicros: holdMicros(calls, (modelId) => this.#caller.plan(modelId, input)),
      estimatedTokens:
        calls.reduce((n, c) => n + c.promptTokens, 0) + (input.params.maxTokens ?? 0),
    });
    // A client that left while admission was pending must not leak the hold.
    if (run.disposed) a.finish(0, 0);
    else run.admission = a;
    run.accountId = a.accountId;
    return a;
  }

  /**
   * The assistant's answer. Status and state frames wait for the first upstream
   * token: until then a failure can still be answered with a real HTTP status.
   * The assistant's own usage summary is dropped: the ledger has every call's.
   */
  #stream(
    run: ChatRunState,
    setup: RunSetup,
    out: Required<Observer<PipelineEvent>>,
  ): Subscription {
    let held: PipelineEvent[] | undefined = [...setup.prepared.events];
    const release = () => {
      const h = held;
      held = undefined;
      for (const e of h ?? []) out.next(e);
    };
    run.sink = (ev) => {
      out.next(ev);
      release();
    };
    const s = setup.assistant
      .run({ ...setup.runContext, caller: this.#modelCaller(run), signal: run.abort.signal })
      .subscribe({
        next: (ev) => {
          if (ev.type === 'usage') return;
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
    s.add(() => (run.sink = undefined));
    return s;
  }

  /**
   * Every model call an assistant makes: retries, fallbacks, timeouts, one
   * ledger row per upstream call under this request id. The run's first
   * upstream token goes to the transport, the rest of the events to the assistant.
   */
  #modelCaller(run: ChatRunState): ModelCaller {
    const record = (a: CallAttempt) => this.#record(run, a);
    const firstToken = (ev: UpstreamFirstToken) => {
      if (run.firstTokenSeen) return;
      run.firstTokenSeen = true;
      run.sink?.(ev);
    };
    return {
      call: (modelId, messages, params) =>
        // cold: the chain (model plan, deadline) is made when the call is subscribed
        defer(() =>
          this.#caller.call(
            this.#caller.chain(
              modelId,
              { messages, params },
              run.attempts,
              record,
              run.control,
              firstToken,
            ),
          ),
        ),
    };
  }

  /** The stop error frame (if stopped) and the end frame with the run's usage. */
  async #end(run: ChatRunState): Promise<PipelineEvent[]> {
    const { stopCode, failed, admission, attempts, input } = run;
    // a stop or a failure may leave work that only listens to the signal
    run.ended = !stopCode && !failed;
    const events: PipelineEvent[] = stopCode
      ? [{ type: 'error', error: new AppError(stopCode) }]
      : [];
    // The client's request id is free before the end frame leaves, so a client
    // that saw the end can reuse it at once (the release is bounded).
    if (admission) await releaseWithin(admission.releaseRequestId(), RELEASE_WAIT_MS);
    if (attempts.length === 0) return events;
    closeLast(attempts, stopCode, failed);
    return [...events, { type: 'end', summary: totalOf(attempts, input.requestId)! }];
  }

  /** Once per run: abort what still runs, book every call, settle the hold. */
  #settle(run: ChatRunState): void {
    run.disposed = true;
    // Aborting allocates a DOMException; a run that answered in full has nothing running.
    if (!run.ended) run.abort.abort();
    for (const a of run.attempts) this.#record(run, a);
    const total = totalOf(run.attempts, run.input.requestId);
    if (this.traces.enabled)
      traceRun(this.traces, run.input, run.attempts, total, run.failed ?? run.stopCode);
    run.admission?.finish(
      total?.costMicros ?? 0,
      total ? total.usage.inputTokens + total.usage.outputTokens : 0,
    );
  }

  #record(run: ChatRunState, a: CallAttempt): void {
    if (a.recorded) return;
    a.recorded = true;
    const { input } = run;
    this.usage.record(
      summaryOf(a, input.requestId),
      input.principal,
      run.accountId,
      input.clientRequestId,
    );
  }
}

function releaseWithin(release: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    release,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
