export type ScopeType = 'user' | 'account' | 'key';
export const SCOPE_TYPES: readonly ScopeType[] = ['user', 'account', 'key'];

export type BudgetPeriod = 'hour' | 'day' | 'month' | 'total';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['hour', 'day', 'month', 'total'];

export type UsageStatus = 'complete' | 'cancelled' | 'error';

/** One upstream call (assistant sub-calls included), keyed by request id + attempt. */
export interface UsageRow {
  requestId: string;
  /** 0 for the first upstream call of a request, then 1, 2... (retries, fallbacks, sub-calls) */
  attempt: number;
  /** the client's own id for the request (a correlation id scoped to the caller), if it sent one */
  clientRequestId?: string | null;
  /** the request that spawned this one (assistant sub-calls) */
  parentRequestId?: string | null;
  userId: string;
  accountId?: string | null;
  keyId?: string | null;
  /** public model id */
  model: string;
  provider: string;
  inputTokens: number;
  cachedInputTokens: number;
  /** includes reasoning tokens */
  outputTokens: number;
  reasoningTokens: number;
  costMicros: number;
  status: UsageStatus;
  errorCode?: string | null;
  ttftMs?: number | null;
  durationMs: number;
  /** defaults to the time `record()` was called */
  createdAt?: Date;
}
