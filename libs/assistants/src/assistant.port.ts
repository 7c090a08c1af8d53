import type { Principal } from '@switchboard/auth';
import type { Artifact, ChatEvent, ChatMessage, ProviderChatRequest } from '@switchboard/llm';
import type { Observable } from 'rxjs';

export type CallParams = Omit<ProviderChatRequest, 'upstreamModel' | 'messages'>;

/**
 * One upstream model call as the gateway makes it: retries and fallbacks before
 * the first token, timeouts, exactly one ledger row per upstream call under the
 * current request id (sub-calls included), covered by the request's budget hold.
 * Unsubscribing aborts the upstream call.
 */
export interface ModelCaller {
  call(modelId: string, messages: ChatMessage[], params: CallParams): Observable<ChatEvent>;
}

/** What an assistant may read: only what the principal may read (enforced below this port). */
export interface DocumentAccess {
  search(
    query: string,
    opts?: { fileIds?: string[]; tags?: string[]; k?: number },
  ): Promise<
    Array<{ fileId: string; name: string; location: string; score: number; text: string }>
  >;
  read(
    fileId: string,
    opts?: { offset?: number; length?: number },
  ): Promise<{ name: string; text: string; totalChars: number }>;
  list(): Promise<Array<{ fileId: string; name: string; tags: string[]; status: string }>>;
  /**
   * The file's original bytes (for a code sandbox).
   * @throws AppError not_found (not visible), payload_too_large (over `maxBytes`)
   */
  content(
    fileId: string,
    maxBytes: number,
  ): Promise<{ name: string; mime: string; data: Uint8Array }>;
}

/** A file stored for the principal (what the client is told about it). */
export interface SavedArtifact {
  fileId: string;
  name: string;
  mime: string;
  size: number;
}

/**
 * Where files a hosted tool produced are kept: as files of the principal.
 * Refusals (too large, type not accepted) are AppErrors with client-safe messages.
 */
export interface ArtifactStore {
  save(artifact: Artifact): Promise<SavedArtifact>;
}

export interface AssistantRunContext {
  requestId: string;
  principal: Principal;
  /** the model the request asked for (main model) */
  modelId: string;
  messages: ChatMessage[];
  params: CallParams;
  /** resolved datasource texts (documents to consider), if any */
  documents: Array<{ fileId: string; name: string; text: string }>;
  caller: ModelCaller;
  docs: DocumentAccess;
  /** stores produced files; without it they are reported as not stored */
  artifacts?: ArtifactStore;
  signal: AbortSignal;
}

/**
 * An assistant decides how a request is answered. `run` returns a cold
 * Observable of ChatEvents (text, tool_call, status, state, finish);
 * status/state events become `meta` frames on /chat.
 */
export interface Assistant {
  readonly id: string;
  readonly name: string;
  /** worst-case upstream cost plan, in calls of (model, prompt tokens, max output tokens); sizes the budget hold */
  plan?(ctx: Omit<AssistantRunContext, 'caller' | 'signal'>): Array<{
    modelId: string;
    promptTokens: number;
    maxOutputTokens: number;
    /** hosted code-interpreter containers the call may open */
    codeInterpreterSessions?: number;
  }>;
  /** the model that writes the answer when it is not the request's (a user-defined assistant's own model) */
  answerModel?(ctx: { modelId: string }): string;
  run(ctx: AssistantRunContext): Observable<ChatEvent>;
}
