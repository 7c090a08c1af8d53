import { type DynamicModule, Module } from '@nestjs/common';
import { AccountService } from '@switchboard/auth';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { FilesService, SsrfGuard } from '@switchboard/datasources';
import { LlmService } from '@switchboard/llm';
import { DATABASE, type Database } from '@switchboard/storage';
import { AssistantRegistry } from './assistant-registry';
import { ChatContextService } from './context/chat-context.service';
import { SqlAssistantRepository } from './user-defined/assistant.repository';
import { AssistantService } from './user-defined/assistant.service';

/**
 * Built-in and user-defined assistants, and the context a chat run is given
 * (retrieval or map-reduce over the caller's documents). Needs LlmModule,
 * DatasourcesModule and ConfigModule (global), DATABASE with
 * `assistantMigrations` applied, and the identity and RAG modules passed in
 * `imports` (the same instances the app imports).
 */
@Module({})
export class AssistantsModule {
  static forRoot(opts: { imports: DynamicModule[] }): DynamicModule {
    return {
      module: AssistantsModule,
      imports: opts.imports,
      providers: [
        {
          provide: AssistantService,
          inject: [DATABASE, AccountService, LlmService, FilesService],
          useFactory: (
            db: Database,
            accounts: AccountService,
            llm: LlmService,
            files: FilesService,
          ) =>
            new AssistantService(new SqlAssistantRepository(db), accounts, llm, {
              readableFileIds: async (p, ids) => (await files.getMany(p, ids)).map((f) => f.id),
              readableTags: async (p, tags) => {
                const carried = new Set((await files.listByTags(p, tags)).flatMap((f) => f.tags));
                return tags.filter((t) => carried.has(t));
              },
            }),
        },
        {
          provide: AssistantRegistry,
          inject: [APP_CONFIG, LlmService, AssistantService, SsrfGuard],
          useFactory: (
            config: AppConfig,
            llm: LlmService,
            store: AssistantService,
            ssrf: SsrfGuard,
          ) => {
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
        ChatContextService,
      ],
      exports: [AssistantService, AssistantRegistry, ChatContextService],
    };
  }
}
