import { Injectable } from '@nestjs/common';
import { AppError, toAppError } from '@switchboard/common';
import {
  LlmService,
  ZERO_USAGE,
  estimatePromptTokens,
  estimateTextTokens,
  type ChatEvent,
  type ServedModel,
  type TokenUsage,
} from '@switchboard/llm';
import {
  concat,
  defer,
  finalize,
  from,
  Observable,
  of,
  catchError,
  takeUntil,
  tap,
  mergeMap,
  EMPTY,
} from 'rxjs';
import { costMicros, UsageRecorder } from '../usage/usage-recorder.service';
import type {
  ChatRunInput,
  PipelineEvent,
  RunControl,
  RunStatus,
  RunSummary,
  StopCode,
} from './chat-run.types';
import { upstreamTimeouts } from './upstream-timeouts';

const DEFAULT_TTFT_TIMEOUT_MS = 60_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Per-run accounting: exactly one summary, whatever way the run ends. */
class RunLedger {
  usage: TokenUsage = { ...ZERO_USAGE };
  reported = false;
  outputText = '';
  toolArgs = 0;
  promptEstimate = 0;
  upstreamStartedAt?: number;
  upstreamTtftMs?: number;
  status: RunStatus = 'cancelled';
  errorCode?: AppError['code'];
  model?: ServedModel;
  provider = '';
  readonly startedAt = performance.now();

  summary(requestId: string): RunSummary {
    let usage = this.usage;
    if (!this.reported && this.model) {
      // The provider reports usage only at the end; a partial answer is counted here.
      usage = {
        inputTokens: this.promptEstimate,
        cachedInputTokens: 0,
        outputTokens: estimateTextTokens(this.outputText) + this.toolArgs,
        reasoningTokens: 0,
      };
    }
    return {
      requestId,
      model: this.model?.id ?? '',
      provider: this.provider,
      attempt: 1,
      usage,
      costMicros: this.model ? costMicros(usage, this.model.pricing) : 0,
      status: this.status,
      usageReported: this.reported,
      upstreamTtftMs: this.upstreamTtftMs,
      durationMs: Math.round(performance.now() - this.startedAt),
      errorCode: this.errorCode,
    };
  }
}

/**
 * One chat request from validated input to the end frame: resolve the model,
 * call the provider, account for usage exactly once. Returned cold; all async
 * work happens on subscription, and unsubscribing aborts the upstream call.
 */
@Injectable()
export class ChatPipeline {
  constructor(
    private readonly llm: LlmService,
    private readonly usage: UsageRecorder,
  ) {}

  /** Resolves and validates synchronously so bad requests fail before streaming. */
  prepare(input: ChatRunInput): ServedModel {
    const model = this.llm.resolve(input.modelId);
    if (!model.capabilities.includes('chat'))
      throw new AppError('model_not_found', `The model "${model.id}" is not a chat model.`, {
        param: 'model',
      });
    const max = input.params.maxTokens;
    if (max !== undefined && max > model.maxOutputTokens)
      throw new AppError(
        'invalid_request',
        `max_tokens must be at most ${model.maxOutputTokens} for ${model.id}.`,
        { param: 'max_tokens' },
      );
    if (input.params.tools?.length && !model.capabilities.includes('tools'))
      throw new AppError('unsupported_parameter', `${model.id} does not support tools.`, {
        param: 'tools',
      });
    if (
      input.params.responseFormat?.type === 'json_schema' &&
      !model.capabilities.includes('json_schema')
    )
      throw new AppError(
        'unsupported_parameter',
        `${model.id} does not support json_schema output.`,
        { param: 'response_format' },
      );
    if (input.params.reasoningEffort && !model.capabilities.includes('reasoning'))
      throw new AppError(
        'unsupported_parameter',
        `${model.id} does not support reasoning_effort.`,
        { param: 'reasoning_effort' },
      );
    return model;
  }

  run(input: ChatRunInput, control: RunControl): Observable<PipelineEvent> {
    return defer(() => {
      const ledger = new RunLedger();
      let stopCode: StopCode | undefined;
      const stop$ = control.stop$.pipe(tap((c) => (stopCode = c)));

      const upstream$ = defer(() => {
        const model = this.prepare(input);
        ledger.model = model;
        ledger.provider = this.llm.providerFor(model).name;
        ledger.promptEstimate = estimatePromptTokens(input.messages, input.params.tools);
        if (ledger.promptEstimate + (input.params.maxTokens ?? 0) > model.contextWindow)
          throw new AppError(
            'context_length_exceeded',
            `The prompt is about ${ledger.promptEstimate} tokens; ${model.id} accepts ${model.contextWindow} including the answer.`,
            { param: 'messages' },
          );
        ledger.upstreamStartedAt = performance.now();
        return this.llm
          .stream(model, { ...input.params, messages: input.messages }, { flow: control.flow })
          .pipe(
            upstreamTimeouts<ChatEvent>(
              model.ttftTimeoutMs ?? DEFAULT_TTFT_TIMEOUT_MS,
              model.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
              control.flow,
            ),
            mergeMap((ev): Observable<PipelineEvent> => {
              let first: PipelineEvent | undefined;
              if (
                ledger.upstreamTtftMs === undefined &&
                (ev.type === 'text' || ev.type === 'tool_call')
              ) {
                const at = performance.now();
                ledger.upstreamTtftMs = at - (ledger.upstreamStartedAt ?? at);
                first = { type: 'upstream_first_token', at, upstreamTtftMs: ledger.upstreamTtftMs };
              }
              if (ev.type === 'text') ledger.outputText += ev.text;
              else if (ev.type === 'tool_call')
                ledger.toolArgs += ev.argumentsDelta ? Math.ceil(ev.argumentsDelta.length / 4) : 0;
              else if (ev.type === 'usage') {
                ledger.usage = ev.usage;
                ledger.reported = true;
                return EMPTY;
              }
              return first ? of(first, ev) : of(ev);
            }),
          );
      }).pipe(takeUntil(stop$));

      return concat(
        upstream$.pipe(
          catchError((e: unknown) => {
            const err = toAppError(e);
            ledger.status = 'error';
            ledger.errorCode = err.code;
            const ev: PipelineEvent = { type: 'error', error: err };
            return of(ev);
          }),
        ),
        defer(() => {
          if (stopCode) {
            ledger.status = 'cancelled';
            ledger.errorCode = stopCode;
            const events: PipelineEvent[] = [
              { type: 'error', error: new AppError(stopCode) },
              { type: 'end', summary: ledger.summary(input.requestId) },
            ];
            return from(events);
          }
          if (ledger.status !== 'error') ledger.status = 'complete';
          const end: PipelineEvent = { type: 'end', summary: ledger.summary(input.requestId) };
          return of(end);
        }),
      ).pipe(
        finalize(() => {
          // Runs once on complete, error or unsubscribe (client gone): status stays
          // 'cancelled' unless the run reached its end.
          if (ledger.upstreamStartedAt === undefined) return;
          this.usage.record(ledger.summary(input.requestId), input.principal, input.accountId);
        }),
      );
    });
  }
}
