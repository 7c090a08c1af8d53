import type { Principal } from '@switchboard/auth';
import type { AppError, ErrorCode } from '@switchboard/common';
import type {
  AttemptStatus,
  ChatEvent,
  ChatMessage,
  FlowControl,
  ProviderChatRequest,
  TokenUsage,
  UpstreamFirstToken,
} from '@switchboard/llm';
import type { Observable } from 'rxjs';

export type ChatParams = Omit<ProviderChatRequest, 'upstreamModel' | 'messages'>;

/** A validated chat request, whatever endpoint it came from. */
export interface ChatRunInput {
  /** server-owned: keys the budget hold, the concurrency slot and the ledger rows */
  requestId: string;
  /** the client's own id for the request, if it sent one (unique among its requests in flight) */
  clientRequestId?: string;
  /** what the client knows the request by: kill switch, x-request-id, error bodies */
  correlationId: string;
  principal: Principal;
  modelId: string;
  messages: ChatMessage[];
  params: ChatParams;
  accountId?: string;
  /** file ids and tag://<name> references to answer over */
  dataSources?: string[];
  ragOnly?: boolean;
  skipRag?: boolean;
  assistantId?: string;
  /** performance.now() when the request arrived */
  receivedAt: number;
}

export type StopCode = Extract<ErrorCode, 'cancelled' | 'draining'>;

/** How the transport steers a run: back-pressure and external stop (kill switch, drain). */
export interface RunControl {
  flow?: FlowControl;
  stop$: Observable<StopCode>;
  /** the client reads the answer whole: model calls may ask upstream for a non-streaming answer */
  whole?: boolean;
}

export type RunStatus = AttemptStatus;

export interface RunSummary {
  requestId: string;
  /** set for assistant sub-calls: the request that spawned this call */
  parentRequestId?: string;
  model: string;
  provider: string;
  attempt: number;
  usage: TokenUsage;
  costMicros: number;
  status: RunStatus;
  /** whether usage came from the provider (true) or was estimated for a partial answer */
  usageReported: boolean;
  upstreamTtftMs?: number;
  durationMs: number;
  errorCode?: ErrorCode;
  /** upstream calls behind this summary (retries, fallbacks, assistant sub-calls) */
  calls?: number;
}

export type PipelineEvent =
  | ChatEvent
  | { type: 'error'; error: AppError }
  | { type: 'end'; summary: RunSummary }
  /** admission passed; rate-limit headers for the response */
  | { type: 'admitted'; headers: Record<string, string> }
  /** the first token reached the gateway from upstream at this time (performance.now()) */
  | UpstreamFirstToken;
