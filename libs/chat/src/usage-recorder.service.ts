import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@switchboard/auth';
import { UsageLedger } from '@switchboard/billing';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { MetricsService } from '@switchboard/observability';
import type { RunSummary } from './chat-run.types';

/**
 * Where every upstream call's usage goes, exactly once per (request, attempt):
 * the usage ledger (batched, flushed on shutdown), a log line and the metrics.
 */
@Injectable()
export class UsageRecorder {
  private readonly log = new Logger('usage');
  /** the per-call line is at debug: below it, the object is not even built */
  readonly #logCalls: boolean;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly ledger: UsageLedger,
  ) {
    this.#logCalls = config.logLevel === 'debug' || config.logLevel === 'trace';
  }

  record(
    summary: RunSummary,
    principal: Principal,
    accountId: string | undefined,
    clientRequestId?: string,
  ): void {
    const { usage, model } = summary;
    this.metrics.tokens.inc({ direction: 'input', model }, usage.inputTokens);
    this.metrics.tokens.inc({ direction: 'cached_input', model }, usage.cachedInputTokens);
    this.metrics.tokens.inc({ direction: 'output', model }, usage.outputTokens);
    this.metrics.tokens.inc({ direction: 'reasoning', model }, usage.reasoningTokens);
    this.metrics.costMicros.inc({ model }, summary.costMicros);
    this.metrics.chatOutcomes.inc({ outcome: summary.status, code: summary.errorCode ?? '' });
    this.ledger.record({
      requestId: summary.requestId,
      clientRequestId: clientRequestId ?? null,
      attempt: summary.attempt,
      parentRequestId: summary.parentRequestId ?? null,
      userId: principal.userId,
      accountId: accountId ?? principal.defaultAccountId ?? null,
      keyId: principal.keyId ?? null,
      model,
      provider: summary.provider,
      inputTokens: usage.inputTokens,
      cachedInputTokens: usage.cachedInputTokens,
      outputTokens: usage.outputTokens,
      reasoningTokens: usage.reasoningTokens,
      costMicros: summary.costMicros,
      status: summary.status,
      errorCode: summary.errorCode ?? null,
      ttftMs: summary.upstreamTtftMs ?? null,
      durationMs: summary.durationMs,
    });
    if (!this.#logCalls) return;
    this.log.debug({
      msg: 'usage',
      ...summary,
      userId: principal.userId,
      keyId: principal.keyId,
      accountId: accountId ?? principal.defaultAccountId,
    });
  }
}
