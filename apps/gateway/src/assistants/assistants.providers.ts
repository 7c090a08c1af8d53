import type { Provider } from '@nestjs/common';
import {
  AssistantRegistry,
  AssistantService,
  SqlAssistantRepository,
  assistantMigrations,
} from '@switchboard/assistants';
import { AccountService } from '@switchboard/auth';
import { LlmService } from '@switchboard/llm';
import { DATABASE, Migrator, type Database } from '@switchboard/storage';

/**
 * The assistants domain for the app. Its tables are created here when the boot
 * migration run did not include `assistantMigrations` yet; the migrator records
 * them by id, so a later run that does include them finds them applied.
 */
export const assistantProviders: Provider[] = [
  {
    provide: AssistantService,
    inject: [DATABASE, AccountService, LlmService],
    useFactory: async (db: Database, accounts: AccountService, llm: LlmService) => {
      await new Migrator(db).migrate(assistantMigrations);
      return new AssistantService(new SqlAssistantRepository(db), accounts, llm);
    },
  },
  {
    provide: AssistantRegistry,
    inject: [LlmService, AssistantService],
    useFactory: (llm: LlmService, store: AssistantService) =>
      new AssistantRegistry({ models: llm, store }),
  },
];
