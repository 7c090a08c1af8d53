import type { ErrorCode } from '@switchboard/common';
import type { ServedModel } from '../llm.service';
import { ZERO_USAGE, type FinishReason, type TokenUsage } from '../chat.types';
import { estimateTextTokens } from '../token-estimator';

export type AttemptStatus = 'complete' | 'cancelled' | 'error';

/** One upstream call: its own usage, status and ledger row. */
export class CallAttempt {
  usage: TokenUsage = { ...ZERO_USAGE };
  reported = false;
  outputText = '';
  toolArgChars = 0;
  upstreamTtftMs?: number;
  status: AttemptStatus = 'cancelled';
  errorCode?: ErrorCode;
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

  /** Providers report usage at the end; a partial or failed call is estimated. */
  billedUsage(): TokenUsage {
    if (this.reported) return this.usage;
    if (!this.produced && this.status === 'error') return { ...ZERO_USAGE };
    return {
      inputTokens: this.promptEstimate,
      cachedInputTokens: 0,
      outputTokens: estimateTextTokens(this.outputText) + Math.ceil(this.toolArgChars / 4),
      reasoningTokens: 0,
      ...(this.codeSessions > 0 ? { codeInterpreterSessions: this.codeSessions } : {}),
    };
  }
}
