import type { Provider } from '@nestjs/common';
import { ConversationService, SqlConversationRepository } from '@switchboard/conversations';
import { DATABASE, type Database } from '@switchboard/storage';

/** The conversations domain; its tables come from `conversationMigrations` in the boot migration run. */
export const conversationProviders: Provider[] = [
  {
    provide: ConversationService,
    inject: [DATABASE],
    useFactory: (db: Database) => new ConversationService(new SqlConversationRepository(db)),
  },
];
