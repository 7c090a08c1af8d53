export * from './conversation.types';
export * from './conversation.migrations';
export * from './conversation.repository';
export * from './conversation.service';
export * from './conversation-turn';
