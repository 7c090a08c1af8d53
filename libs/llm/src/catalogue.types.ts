export type ProviderKind = 'openai' | 'openai-compatible' | 'azure-openai' | 'bedrock' | 'gemini';

export type Capability =
  | 'chat'
  | 'streaming'
  | 'tools'
  | 'vision'
  | 'json_schema'
  | 'reasoning'
  | 'embeddings'
  | 'code_interpreter';

/** USD per million tokens. */
export interface ModelPricing {
  input: number;
  cachedInput: number;
  output: number;
  /**
   * USD per hosted code-interpreter container a call opens (OpenAI bills
   * container time; the catalogue uses the 1 GB, 20-minute session price as
   * the ceiling). Absent = 0.
   */
  codeInterpreterSession?: number;
  /** ISO date the price was last checked against the provider's price list */
  checked: string;
}

export interface CatalogueModel {
  /** public id clients send */
  id: string;
  provider: ProviderKind;
  /** provider instance name when several of one kind are configured; default = kind */
  providerInstance?: string;
  /** model name upstream (Azure: deployment name) */
  upstreamModel: string;
  displayName?: string;
  contextWindow: number;
  maxOutputTokens: number;
  pricing: ModelPricing;
  capabilities: Capability[];
  /** public ids tried in order, before the first token, if this model fails */
  fallbacks?: string[];
  /** served by the built-in simulator */
  simulated?: boolean;
  /** per-model time-to-first-token timeout, ms */
  ttftTimeoutMs?: number;
  /** per-model inter-token idle timeout, ms */
  idleTimeoutMs?: number;
  /** per-model limit of a non-streaming upstream call (a client reading the answer whole), ms */
  wholeTimeoutMs?: number;
}
