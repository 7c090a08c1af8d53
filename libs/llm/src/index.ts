export { ZERO_USAGE } from './chat.types';
export type {
  Artifact,
  ChatEvent,
  ChatMessage,
  ContentPart,
  EmbeddingResult,
  FinishReason,
  HostedTool,
  ProviderChatRequest,
  ResponseFormat,
  TokenUsage,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from './chat.types';
export type { CatalogueModel, ModelPricing } from './catalogue.types';
export { FlowControl } from './flow-control';
export { UpstreamError } from './upstream-error';
export { LlmService } from './llm.service';
export { LlmModule } from './llm.module';
export type { ServedModel } from './llm.service';
export { loadCatalogue, parseCatalogue } from './catalogue/model-catalogue';
export { OpenAiChatProvider } from './providers/openai-chat.provider';
export { createProviders, hasProviderCredentials } from './providers/provider-factory';
export {
  countCallerMessages,
  estimatePromptTokens,
  estimateTextTokens,
  warmTokenizer,
} from './token-estimator';
export { CallAttempt } from './resilience/call-attempt';
export type { AttemptStatus } from './resilience/call-attempt';
export { ResilientCaller } from './resilience/resilient-caller';
export type { UpstreamFirstToken } from './resilience/resilient-caller';
