import {
  Module,
  RequestMethod,
  type DynamicModule,
  type Provider,
  type Type,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { APP_CONFIG, ConfigModule, type AppConfig } from '@switchboard/config';
import { LlmService } from '@switchboard/llm';
import { ChatTraces, MetricsService, TRACE_EXPORTER } from '@switchboard/observability';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { ChatController } from './chat/chat.controller';
import { DrainState } from './health/drain-state';
import { EmfService } from './health/emf.service';
import { AccountService, ApiKeyService } from '@switchboard/auth';
import {
  BudgetHoldJournal,
  BudgetRepository,
  BudgetSeeder,
  BudgetService,
  UsageLedger,
  UsageReports,
} from '@switchboard/billing';
import { RateLimitService } from '@switchboard/rate-limit';
import { DATABASE } from '@switchboard/storage';
import { SpendControl } from '@switchboard/billing';
import { FailOpenTally, LIMITS_VERSION, REQUEST_CLAIMS } from '@switchboard/rate-limit';
import { KillSwitch } from './streaming/kill-switch.service';
import type { Infrastructure } from './infra/infrastructure';
import { DEPENDENCIES, HealthController, READINESS_CHECKS } from './health/health.controller';
import { CompletionsController } from './openai/completions.controller';
import { EmbeddingsController } from './openai/embeddings.controller';
import { ResponsesController } from './openai/responses.controller';
import { StoredResponses } from '@switchboard/responses';
import { DocsController, ROUTE_CONTROLLERS } from './openapi/docs.controller';
import { ChatStreamRunner } from './streaming/chat-stream.runner';
import { StreamRegistry } from './streaming/stream-registry.service';
import { RunChatUseCase, UsageRecorder } from '@switchboard/chat';
import { ChatContextService } from '@switchboard/assistants';
import { UsageReportsController } from './usage/usage-reports.controller';
import { AdminAccountsController } from './admin/admin-accounts.controller';
import { AdminBudgetsController } from './admin/admin-budgets.controller';
import { AdminKeysController } from './admin/admin-keys.controller';
import { MeController } from './admin/me.controller';
import { AssistantsController } from './assistants/assistants.controller';
import { assistantProviders } from './assistants/assistants.providers';
import {
  BLOB_STORE,
  ExternalSourceService,
  FilesService,
  JobQueue,
  JobWorker,
  SsrfGuard,
} from '@switchboard/datasources';
import { ContextBuilder, DataSourceResolver, EMBEDDER, RetrievalService } from '@switchboard/rag';
import { FilesController, TagsController } from './files/files.controller';
import { AdminJobsController } from './files/admin-jobs.controller';
import { AdminSourcesController } from './files/admin-sources.controller';
import { ConversationsController } from './conversations/conversations.controller';
import { conversationProviders } from './conversations/conversations.providers';
import { ConversationChatRecorder } from './conversations/conversation-chat.recorder';

/** Every controller with routes; /openapi.json documents exactly these. */
export const ROUTED_CONTROLLERS: Type[] = [
  ChatController,
  CompletionsController,
  ResponsesController,
  EmbeddingsController,
  HealthController,
  AdminKeysController,
  AdminAccountsController,
  AdminBudgetsController,
  MeController,
  UsageReportsController,
  AssistantsController,
  FilesController,
  TagsController,
  AdminJobsController,
  AdminSourcesController,
  DocsController,
  ConversationsController,
];

export interface GatewayModuleOptions {
  config: AppConfig;
  logger: PinoLogger;
  llm: LlmService;
  infra: Infrastructure;
  providers?: Provider[];
}

/** Routes every chat request takes, kept to the shortest per-request chain. */
export const HOT_ROUTES = [
  { path: 'chat', method: RequestMethod.POST },
  { path: 'v1/chat/completions', method: RequestMethod.POST },
];

@Module({})
export class AppModule {
  static forRoot(opts: GatewayModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(opts.config),
        TerminusModule.forRoot({ errorLogStyle: 'json', logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            logger: opts.logger,
            autoLogging: false,
            quietReqLogger: true,
            genReqId: (req) => (req as unknown as { requestId: string }).requestId,
          },
          // The chat routes carry no per-request child logger (and no async
          // context around each request): their logs name the request id
          // themselves, and the access log covers every request.
          exclude: HOT_ROUTES,
        }),
      ],
      controllers: ROUTED_CONTROLLERS,
      providers: [
        { provide: LlmService, useValue: opts.llm },
        { provide: READINESS_CHECKS, useValue: opts.infra.readinessChecks },
        { provide: DEPENDENCIES, useValue: () => opts.infra.dependencies() },
        { provide: DATABASE, useValue: opts.infra.db },
        { provide: ApiKeyService, useValue: opts.infra.apiKeys },
        { provide: AccountService, useValue: opts.infra.accounts },
        { provide: RateLimitService, useValue: opts.infra.rateLimits },
        { provide: BudgetService, useValue: opts.infra.budgets },
        { provide: BudgetRepository, useValue: opts.infra.budgetRepo },
        { provide: BudgetHoldJournal, useValue: opts.infra.holdJournal },
        { provide: BudgetSeeder, useValue: opts.infra.budgetSeeder },
        { provide: REQUEST_CLAIMS, useValue: opts.infra.requestClaims },
        { provide: LIMITS_VERSION, useValue: opts.infra.limitsVersion },
        { provide: FailOpenTally, useValue: opts.infra.failOpen },
        { provide: UsageLedger, useValue: opts.infra.ledger },
        { provide: UsageReports, useValue: opts.infra.reports },
        { provide: BLOB_STORE, useValue: opts.infra.blobs },
        { provide: FilesService, useValue: opts.infra.files },
        { provide: JobQueue, useValue: opts.infra.jobs },
        { provide: JobWorker, useValue: opts.infra.worker },
        { provide: EMBEDDER, useValue: opts.infra.embedder },
        { provide: RetrievalService, useValue: opts.infra.retrieval },
        { provide: DataSourceResolver, useValue: opts.infra.dataSources },
        { provide: ContextBuilder, useValue: opts.infra.contextBuilder },
        { provide: ExternalSourceService, useValue: opts.infra.externalSources },
        { provide: SsrfGuard, useValue: opts.infra.ssrfGuard },
        { provide: StoredResponses, useValue: opts.infra.responses },
        { provide: ROUTE_CONTROLLERS, useValue: ROUTED_CONTROLLERS },
        SpendControl,
        ChatContextService,
        {
          provide: KillSwitch,
          inject: [StreamRegistry],
          useFactory: (registry: StreamRegistry) =>
            new KillSwitch(registry, opts.infra.redis?.client ?? null),
        },
        MetricsService,
        {
          provide: ChatTraces,
          inject: [APP_CONFIG, { token: TRACE_EXPORTER, optional: true }],
          useFactory: (config: AppConfig, exporter?: SpanExporter) =>
            new ChatTraces({ ...config.tracing, exporter }),
        },
        DrainState,
        StreamRegistry,
        EmfService,
        UsageRecorder,
        RunChatUseCase,
        ChatStreamRunner,
        ...assistantProviders,
        ...conversationProviders,
        ConversationChatRecorder,
        ...(opts.providers ?? []),
      ],
    };
  }
}
