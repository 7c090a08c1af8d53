import type { Provider } from '@nestjs/common';
import {
  AssistantRegistry,
  AssistantService,
  SqlAssistantRepository,
} from '@switchboard/assistants';
import { AccountService } from '@switchboard/auth';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { FilesService, SsrfGuard } from '@switchboard/datasources';
import { LlmService } from '@switchboard/llm';
import { DATABASE, type Database } from '@switchboard/storage';

/** The assistants domain for the app; its tables come from `assistantMigrations` in the boot migration run. */
export const assistantProviders: Provider[] = [
  {
    provide: AssistantService,
    inject: [DATABASE, AccountService, LlmService, FilesService],
    useFactory: (db: Database, accounts: AccountService, llm: LlmService, files: FilesService) => {
      return new AssistantService(new SqlAssistantRepository(db), accounts, llm, {
        readableFileIds: async (p, ids) => (await files.getMany(p, ids)).map((f) => f.id),
        readableTags: async (p, tags) => {
          const carried = new Set((await files.listByTags(p, tags)).flatMap((f) => f.tags));
          return tags.filter((t) => carried.has(t));
        },
      });
    },
  },
  {
    provide: AssistantRegistry,
    inject: [APP_CONFIG, LlmService, AssistantService, SsrfGuard],
    useFactory: (config: AppConfig, llm: LlmService, store: AssistantService, ssrf: SsrfGuard) => {
      const a = config.assistants;
      return new AssistantRegistry({
        models: llm,
        store,
        config: {
          mapModelId: a.mapModelId,
          summaryModelId: a.summaryModelId,
          mapConcurrency: a.mapConcurrency,
          agentMaxSteps: a.agentMaxSteps,
          agentDeadlineMs: a.agentDeadlineMs,
          sandboxMaxFileBytes: a.sandboxMaxFileBytes,
          ...(a.fetchUrl ? { urlFetcher: ssrf } : {}),
        },
      });
    },
  },
];
