import { Module } from '@nestjs/common';
import { DATABASE, type Database } from '@switchboard/storage';
import { SqlConversationRepository } from './conversation.repository';
import { ConversationService } from './conversation.service';

/** Saved conversations of the web app. Needs DATABASE with `conversationMigrations` applied. */
@Module({
  providers: [
    {
      provide: ConversationService,
      inject: [DATABASE],
      useFactory: (db: Database) => new ConversationService(new SqlConversationRepository(db)),
    },
  ],
  exports: [ConversationService],
})
export class ConversationsModule {}
