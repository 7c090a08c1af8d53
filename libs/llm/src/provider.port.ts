import type { Observable } from 'rxjs';
import type { ProviderKind } from './catalogue.types';
import type { ChatEvent, EmbeddingResult, ProviderChatRequest } from './chat.types';
import type { FlowControl } from './flow-control';

export interface StreamOptions {
  /** aborted when the caller goes away; adapters also abort on unsubscribe */
  signal?: AbortSignal;
  flow?: FlowControl;
  /**
   * The caller reads the answer whole (a non-streaming client): an adapter whose
   * `answersWhole(request)` is true asks upstream for one non-streaming answer
   * and emits it in as few events as it can; others stream as usual.
   */
  whole?: boolean;
}

/**
 * The contract every provider adapter implements. `stream` returns a COLD
 * Observable: nothing happens until subscription, and unsubscribing aborts the
 * upstream HTTP request. It emits text/tool_call deltas, then exactly one
 * `usage` (when the upstream reports it) and one `finish`, then completes.
 */
export interface LlmProvider {
  readonly kind: ProviderKind;
  /** instance name; equals `kind` unless several of one kind are configured */
  readonly name: string;
  readonly simulated: boolean;
  stream(request: ProviderChatRequest, options?: StreamOptions): Observable<ChatEvent>;
  /**
   * Whether `stream(request, { whole: true })` makes one non-streaming upstream
   * call: no token arrives before the answer is complete, so the caller times
   * the call as a whole, not by its first token.
   */
  answersWhole?(request: ProviderChatRequest): boolean;
  /** optional capability; adapters without it throw `unsupported_capability` */
  embed?(
    upstreamModel: string,
    inputs: string[],
    options?: { dimensions?: number; signal?: AbortSignal },
  ): Promise<EmbeddingResult>;
}

export const LLM_PROVIDERS = Symbol('LLM_PROVIDERS');
