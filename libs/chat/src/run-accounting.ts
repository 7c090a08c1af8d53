import type { AppError } from '@switchboard/common';
import { costMicros, worstCaseCostMicros } from '@switchboard/billing';
import { ZERO_USAGE, type CallAttempt, type ServedModel } from '@switchboard/llm';
import type { RunSummary, StopCode } from './chat-run.types';

/** One upstream call as the ledger books it. */
export function summaryOf(a: CallAttempt, requestId: string): RunSummary {
  const usage = a.billedUsage();
  return {
    requestId,
    model: a.model.id,
    provider: a.provider,
    attempt: a.number,
    usage,
    costMicros: costMicros(usage, a.model.pricing),
    status: a.status,
    usageReported: a.reported,
    upstreamTtftMs: a.upstreamTtftMs === undefined ? undefined : Math.round(a.upstreamTtftMs),
    durationMs: Math.round(performance.now() - a.startedAt),
    errorCode: a.errorCode,
  };
}

/** The request's usage: every upstream call added up, reported as the answering model. */
export function totalOf(attempts: CallAttempt[], requestId: string): RunSummary | undefined {
  if (attempts.length === 0) return undefined;
  const summaries = attempts.map((a) => summaryOf(a, requestId));
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
    ...summaries[summaries.length - 1],
    usage,
    costMicros: cost,
    usageReported: summaries.every((x) => x.usageReported),
    calls: summaries.length,
  };
}

/** The last call ends the way the run ended: stopped, failed or answered. */
export function closeLast(
  attempts: CallAttempt[],
  stopCode: StopCode | undefined,
  failed: AppError | undefined,
): void {
  const last = attempts[attempts.length - 1];
  if (!last) return;
  if (stopCode) {
    last.status = 'cancelled';
    last.errorCode = stopCode;
  } else if (failed) {
    last.status = 'error';
    last.errorCode = failed.code;
  } else last.status = 'complete';
}

/** A call an assistant plans to make, for the budget hold. */
export interface PlannedCall {
  modelId: string;
  promptTokens: number;
  maxOutputTokens: number;
  codeInterpreterSessions?: number;
}

/** The budget hold: every planned call at the dearest model of its fallback chain. */
export function holdMicros(
  calls: PlannedCall[],
  planFor: (modelId: string) => ServedModel[],
): number {
  let total = 0;
  for (const c of calls) {
    let dearest = 0;
    for (const m of planFor(c.modelId))
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
