export type {
  ConversationRecord,
  MessageFile,
  MessageRecord,
  MessageSource,
} from './conversation.types';
export { conversationMigrations } from './conversation.migrations';
export { SqlConversationRepository } from './conversation.repository';
export { ConversationService, MAX_TITLE_LENGTH } from './conversation.service';
export { ConversationTurn } from './conversation-turn';
export { ConversationsModule } from './conversations.module';
