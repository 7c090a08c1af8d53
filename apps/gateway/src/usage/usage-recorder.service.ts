import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@switchboard/auth';
import type { ModelPricing, TokenUsage } from '@switchboard/llm';
import { MetricsService } from '@switchboard/observability';
import type { RunSummary } from '../chat/chat-run.types';

/** USD per million tokens == micro-dollars per token; rounded up once, at the end. */
export function costMicros(u: TokenUsage, p: ModelPricing): number {
  const uncached = Math.max(0, u.inputTokens - u.cachedInputTokens);
  return Math.ceil(
    uncached * p.input + u.cachedInputTokens * p.cachedInput + u.outputTokens * p.output - 1e-9,
  );
}

/**
 * Where every upstream call's usage goes, exactly once per (request, attempt):
 * a structured log line and the token/cost metrics.
 */
@Injectable()
export class UsageRecorder {
  private readonly log = new Logger('usage');

  constructor(private readonly metrics: MetricsService) {}

  record(summary: RunSummary, principal: Principal, accountId: string | undefined): void {
    const { usage, model } = summary;
    this.metrics.tokens.inc({ direction: 'input', model }, usage.inputTokens);
    this.metrics.tokens.inc({ direction: 'cached_input', model }, usage.cachedInputTokens);
    this.metrics.tokens.inc({ direction: 'output', model }, usage.outputTokens);
    this.metrics.tokens.inc({ direction: 'reasoning', model }, usage.reasoningTokens);
    this.metrics.costMicros.inc({ model }, summary.costMicros);
    this.metrics.chatOutcomes.inc({ outcome: summary.status, code: summary.errorCode ?? '' });
    this.log.log({
      msg: 'usage',
      ...summary,
      userId: principal.userId,
      keyId: principal.keyId,
      accountId: accountId ?? principal.defaultAccountId,
    });
  }
}
