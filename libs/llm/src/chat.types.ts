/** Normalised chat types shared by every provider adapter and every endpoint. */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  /** data: URL or https: URL */
  url: string;
}

export type ContentPart = TextPart | ImagePart;

export interface ToolCall {
  id: string;
  name: string;
  /** JSON-encoded arguments, exactly as the model produced them. */
  arguments: string;
}

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[];
  /** assistant messages that called tools */
  toolCalls?: ToolCall[];
  /** tool result messages */
  toolCallId?: string;
  name?: string;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON schema of the arguments */
  parameters?: Record<string, unknown>;
}

/**
 * A tool the provider runs itself (no round trip through the gateway):
 * `code_interpreter` = hosted code execution (OpenAI Responses API).
 */
export interface HostedTool {
  type: 'code_interpreter';
}

/** A file the model's hosted tool produced, fetched from the provider. */
export interface Artifact {
  /** file name as the provider reports it (not trusted as a path) */
  name: string;
  data: Uint8Array;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean };

export type ReasoningEffort = 'minimal' | 'low' | 'medium' | 'high';

/** Token counts of one upstream call. Output tokens include reasoning tokens;
 * input tokens include cached input tokens (OpenAI's convention). */
export interface TokenUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** hosted code-interpreter containers the call opened (billed per container) */
  codeInterpreterSessions?: number;
}

export const ZERO_USAGE: Readonly<TokenUsage> = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

export type FinishReason =
  'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | 'cancelled';

/** What flows from a provider (and from assistants) to an endpoint. */
export type ChatEvent =
  | { type: 'text'; text: string }
  | {
      type: 'tool_call';
      /** position of the call in this turn */
      index: number;
      id?: string;
      name?: string;
      argumentsDelta?: string;
    }
  | { type: 'usage'; usage: TokenUsage }
  | { type: 'finish'; reason: FinishReason }
  | { type: 'artifact'; artifact: Artifact }
  | { type: 'status'; id: string; message: string; inProgress: boolean; [key: string]: unknown }
  | { type: 'state'; state: Record<string, unknown> };

/** A request as handed to a provider adapter, after routing. */
export interface ProviderChatRequest {
  /** the upstream model name (deployment for Azure, model id for Bedrock...) */
  upstreamModel: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  tools?: ToolDefinition[];
  /** tools the provider runs itself; adapters without them throw `unsupported_capability` */
  hostedTools?: HostedTool[];
  /**
   * files put in the hosted code sandbox (OpenAI: uploaded, mounted under
   * /mnt/data, deleted after the call); only with `hostedTools`
   */
  hostedFiles?: Artifact[];
  toolChoice?: ToolChoice;
  responseFormat?: ResponseFormat;
  reasoningEffort?: ReasoningEffort;
  /** opaque end-user id, forwarded where the provider supports it */
  user?: string;
}

export interface EmbeddingResult {
  vectors: number[][];
  inputTokens: number;
}
