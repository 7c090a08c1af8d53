import type { Observable } from 'rxjs';
import type { ProviderKind } from './catalogue.types';
import type { ChatEvent, EmbeddingResult, ProviderChatRequest } from './chat.types';
import type { FlowControl } from './flow-control';

export interface StreamOptions {
  /** aborted when the caller goes away; adapters also abort on unsubscribe */
  signal?: AbortSignal;
  flow?: FlowControl;
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
  /** optional capability; adapters without it throw `unsupported_capability` */
  embed?(
    upstreamModel: string,
    inputs: string[],
    options?: { dimensions?: number; signal?: AbortSignal },
  ): Promise<EmbeddingResult>;
}

export const LLM_PROVIDERS = Symbol('LLM_PROVIDERS');
