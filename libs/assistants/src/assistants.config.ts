import type { CatalogueModel } from '@switchboard/llm';

/** Looks models up in the catalogue (`LlmService` fits). @throws AppError model_not_found */
export interface ModelDirectory {
  resolve(id: string): CatalogueModel;
}

/** The SSRF-guarded fetcher `fetch_url` goes through (`SsrfGuard` from @switchboard/datasources fits). */
export interface UrlFetcher {
  fetch(
    url: string,
    req?: { signal?: AbortSignal },
  ): Promise<{ status: number; url: string; contentType: string; body: Buffer }>;
}

export interface AssistantsConfig {
  /** model of map calls (default: the request's model); usually a cheaper one */
  mapModelId?: string;
  /** model that summarises dropped turns (default: mapModelId, else the request's model) */
  summaryModelId?: string;
  /** parallel map calls (default 3) */
  mapConcurrency?: number;
  /** output cap of one map call (default 1024) */
  mapMaxOutputTokens?: number;
  /** cap of a conversation summary (default 512) */
  summaryMaxTokens?: number;
  /** model calls of one agent run (default 6) */
  agentMaxSteps?: number;
  /** wall-clock limit of one agent run (default 120 s) */
  agentDeadlineMs?: number;
  /** limit of one tool run (default 30 s) */
  toolTimeoutMs?: number;
  /** characters of a tool result fed back to the model (default 8000) */
  toolResultMaxChars?: number;
  /** set by the operator to enable `fetch_url`; absent = the tool does not exist */
  urlFetcher?: UrlFetcher;
  /** code interpreter: largest document file put in the sandbox (default 32 MiB) */
  sandboxMaxFileBytes?: number;
  /** code interpreter: files put in the sandbox per request (default 20) */
  sandboxMaxFiles?: number;
  /** code interpreter: bytes put in the sandbox per request (default 64 MiB) */
  sandboxMaxTotalBytes?: number;
}

export interface ResolvedAssistantsConfig {
  mapModelId?: string;
  summaryModelId?: string;
  mapConcurrency: number;
  mapMaxOutputTokens: number;
  summaryMaxTokens: number;
  agentMaxSteps: number;
  agentDeadlineMs: number;
  toolTimeoutMs: number;
  toolResultMaxChars: number;
  urlFetcher?: UrlFetcher;
  sandboxMaxFileBytes: number;
  sandboxMaxFiles: number;
  sandboxMaxTotalBytes: number;
}

export function resolveConfig(c: AssistantsConfig = {}): ResolvedAssistantsConfig {
  return {
    ...c,
    mapConcurrency: c.mapConcurrency ?? 3,
    mapMaxOutputTokens: c.mapMaxOutputTokens ?? 1024,
    summaryMaxTokens: c.summaryMaxTokens ?? 512,
    agentMaxSteps: c.agentMaxSteps ?? 6,
    agentDeadlineMs: c.agentDeadlineMs ?? 120_000,
    toolTimeoutMs: c.toolTimeoutMs ?? 30_000,
    toolResultMaxChars: c.toolResultMaxChars ?? 8000,
    sandboxMaxFileBytes: c.sandboxMaxFileBytes ?? 32 * 1024 * 1024,
    sandboxMaxFiles: c.sandboxMaxFiles ?? 20,
    sandboxMaxTotalBytes: c.sandboxMaxTotalBytes ?? 64 * 1024 * 1024,
  };
}

/** What the built-in assistants are built from. */
export interface AssistantDeps {
  models: ModelDirectory;
  config: ResolvedAssistantsConfig;
}

/** Output tokens reserved for an answer: the request's cap, else the model's. */
export function answerTokens(model: CatalogueModel, maxTokens: number | undefined): number {
  return Math.min(maxTokens ?? model.maxOutputTokens, model.maxOutputTokens);
}
