import { AppError } from '@switchboard/common';
import type { CallAttempt } from '@switchboard/llm';
import type { ChatTraces } from '@switchboard/observability';
import type { ChatRunInput, RunSummary, StopCode } from './chat-run.types';
import { summaryOf } from './run-accounting';

/** Traces a run once it ended (OTEL_TRACES_ENABLED): real start and end times. */
export function traceRun(
  traces: ChatTraces,
  input: ChatRunInput,
  attempts: CallAttempt[],
  total: RunSummary | undefined,
  stopped: AppError | StopCode | undefined,
): void {
  const epoch = (at: number) => performance.timeOrigin + at;
  traces.record({
    requestId: input.requestId,
    modelId: input.modelId,
    assistantId: input.assistantId,
    startedAt: epoch(input.receivedAt),
    endedAt: epoch(performance.now()),
    status:
      stopped instanceof AppError ? 'error' : stopped ? 'cancelled' : (total?.status ?? 'complete'),
    errorCode: stopped instanceof AppError ? stopped.code : stopped,
    calls: attempts.map((a) => {
      const s = summaryOf(a, input.requestId);
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
