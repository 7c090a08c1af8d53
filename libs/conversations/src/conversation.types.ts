export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'streaming' | 'complete' | 'cancelled' | 'error';

export interface ConversationRecord {
  id: string;
  ownerUserId: string;
  title: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface MessageSource {
  n: number;
  fileId: string;
  name: string;
  location: string;
  score: number;
  snippet: string;
}

export interface MessageFile {
  fileId: string;
  name: string;
  mime: string;
  size: number;
}

export interface MessageUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costMicros: number;
  /** tokens estimated by the gateway (a partial answer) */
  estimated: boolean;
}

export interface MessageRecord {
  id: string;
  conversationId: string;
  ownerUserId: string;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  requestId: string | null;
  model: string | null;
  sources: MessageSource[];
  generatedFiles: MessageFile[];
  usage: MessageUsage | null;
  error: { code: string; message: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The final state of an assistant message when its stream ends. */
export interface TurnOutcome {
  status: Exclude<MessageStatus, 'streaming'>;
  content: string;
  model: string | null;
  sources: MessageSource[];
  generatedFiles: MessageFile[];
  usage: MessageUsage | null;
  error: { code: string; message: string } | null;
}

export interface ListConversationsQuery {
  /** at most this many (1-100) */
  limit: number;
  /** opaque cursor of the previous page */
  cursor?: string;
  /** case-insensitive substring of the title */
  search?: string;
}
