export type {
  ApiErrorBody,
  AssistantInfo,
  ChatMessageInput,
  ChatRequestBody,
  ChatStreamEvent,
  ConversationInfo,
  ConversationMessage,
  EndUsage,
  FileInfo,
  GeneratedFile,
  Me,
  ModelInfo,
  Page,
  RunStatus,
  SourceRef,
  StatusUpdate,
  TokenUsage,
} from './types';
export { SseParser } from './sse-parser';
export type { SseMessage } from './sse-parser';
export { FrameError, parseChatFrame } from './chat-frames';
export { ChatStream, sseMessages, streamInfo } from './chat-stream';
export type { StreamInfo } from './chat-stream';
export { SwitchboardApiError, toApiError } from './errors';
export { SwitchboardClient, newRequestId } from './client';
export type { ClientOptions, CompletionChunk, RequestOptions, TokenSource } from './client';
