/** Wire types of the Switchboard API, shared by the browser app and Node clients. */

export interface TokenUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  codeInterpreterSessions?: number;
}

/** `usage` of the end frame: tokens plus the cost in micro-dollars. */
export interface EndUsage extends TokenUsage {
  costMicros: number;
  /** true when the gateway estimated the tokens of a partial answer */
  estimated: boolean;
}

export interface SourceRef {
  /** the number the answer cites as [n] */
  n: number;
  fileId: string;
  name: string;
  location: string;
  score: number;
  snippet: string;
}

export interface GeneratedFile {
  fileId: string;
  name: string;
  mime: string;
  size: number;
}

export interface StatusUpdate {
  id: string;
  message: string;
  inProgress: boolean;
  /** code-interpreter runs carry `code` and `logs`; warnings carry `level` */
  [key: string]: unknown;
}

export type RunStatus = 'complete' | 'cancelled' | 'error';

/** One typed event of a `/chat` stream. */
export type ChatStreamEvent =
  | { type: 'answer'; text: string }
  | { type: 'status'; status: StatusUpdate }
  | {
      type: 'state';
      state: Record<string, unknown>;
      /** the sources frame's documents, when this state carries them */
      sources?: SourceRef[];
      /** files the code interpreter produced, when this state carries them */
      generatedFiles?: GeneratedFile[];
    }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'error'; code: string; message: string }
  | {
      type: 'end';
      usage: EndUsage;
      model: string;
      provider: string;
      attempt: number;
      status: RunStatus;
    }
  /** a `: keep-alive` comment */
  | { type: 'heartbeat' };

export interface ChatMessageInput {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_call_id?: string;
  data?: { dataSources?: string[] };
}

export interface ChatRequestBody {
  messages: ChatMessageInput[];
  options: {
    model: { id: string };
    requestId?: string;
    assistantId?: string;
    accountId?: string;
    conversationId?: string;
    ragOnly?: boolean;
    skipRag?: boolean;
    maxTokens?: number;
    temperature?: number;
  };
  dataSources?: string[];
  max_tokens?: number;
  temperature?: number;
}

/** The JSON error body of every non-2xx answer. */
export interface ApiErrorBody {
  error: {
    code: string;
    message: string;
    requestId?: string;
    param?: string;
    details?: Array<{ path: string; message: string }>;
    [key: string]: unknown;
  };
}

export interface ModelInfo {
  id: string;
  object: 'model';
  owned_by: string;
  simulated?: boolean;
  capabilities?: string[];
  [key: string]: unknown;
}

export interface AssistantInfo {
  id: string;
  name: string;
  instructions?: string;
  model?: string | null;
  fileIds?: string[];
  tags?: string[];
  tools?: string[];
  [key: string]: unknown;
}

export interface FileInfo {
  id: string;
  name: string;
  mime: string;
  size: number;
  status: 'queued' | 'processing' | 'ready' | 'failed' | 'stored';
  tags: string[];
  error?: string | null;
  createdAt: string;
  [key: string]: unknown;
}

/** GET /me: the caller as the gateway resolved it. */
export interface Me {
  kind: string;
  userId: string;
  accountIds: string[];
  defaultAccountId: string | null;
  keyId: string | null;
  scopes: string[];
  [key: string]: unknown;
}

export interface ConversationInfo {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'cancelled' | 'error' | 'streaming';
  model: string | null;
  sources: SourceRef[];
  generatedFiles: GeneratedFile[];
  usage: EndUsage | null;
  error: { code: string; message: string } | null;
  createdAt: string;
}

export interface Page<T> {
  data: T[];
  /** pass as `cursor` to read the next page; null on the last page */
  nextCursor: string | null;
}
