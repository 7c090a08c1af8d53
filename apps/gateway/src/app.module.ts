import {
  Module,
  RequestMethod,
  type DynamicModule,
  type Provider,
  type Type,
} from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { APP_CONFIG, ConfigModule, type AppConfig } from '@switchboard/config';
import { LlmModule, type LlmService } from '@switchboard/llm';
import { ChatTraces, MetricsService, TRACE_EXPORTER } from '@switchboard/observability';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { ChatController } from './chat/chat.controller';
import { DrainState } from './health/drain-state';
import { EmfService } from './health/emf.service';
import {
  AccountService,
  ApiKeyService,
  IdentityModule,
  identityMigrations,
  loadOrCreateApiKeySecret,
  type BootstrapAdminKey,
} from '@switchboard/auth';
import {
  ATOMIC_ADMISSION,
  BUDGET_STORE,
  BillingModule,
  SpendControl,
  atomicAdmission,
  billingMigrations,
} from '@switchboard/billing';
import { LIMITS_VERSION, LIMIT_STORE, RateLimitModule } from '@switchboard/rate-limit';
import { REDIS, StorageModule, type Migration, type StorageLogger } from '@switchboard/storage';
import { KillSwitch } from './streaming/kill-switch.service';
import { HealthController } from './health/health.controller';
import { healthProviders } from './health/health.providers';
import { CompletionsController } from './openai/completions.controller';
import { EmbeddingsController } from './openai/embeddings.controller';
import { ResponsesController } from './openai/responses.controller';
import { ResponsesModule, responseMigrations } from '@switchboard/responses';
import { DocsController, ROUTE_CONTROLLERS } from './openapi/docs.controller';
import { ChatStreamRunner } from './streaming/chat-stream.runner';
import { StreamRegistry } from './streaming/stream-registry.service';
import { RunChatUseCase, UsageRecorder } from '@switchboard/chat';
import { AssistantsModule, assistantMigrations } from '@switchboard/assistants';
import { UsageReportsController } from './usage/usage-reports.controller';
import { AdminAccountsController } from './admin/admin-accounts.controller';
import { AdminBudgetsController } from './admin/admin-budgets.controller';
import { AdminKeysController } from './admin/admin-keys.controller';
import { MeController } from './admin/me.controller';
import { AssistantsController } from './assistants/assistants.controller';
import {
  DatasourcesModule,
  datasourceMigrations,
  type SsrfGuardOptions,
} from '@switchboard/datasources';
import { RagModule, createRagMigrations, type Embedder } from '@switchboard/rag';
import { FilesController, TagsController } from './files/files.controller';
import { AdminJobsController } from './files/admin-jobs.controller';
import { AdminSourcesController } from './files/admin-sources.controller';
import { ConversationsController } from './conversations/conversations.controller';
import { ConversationsModule, conversationMigrations } from '@switchboard/conversations';
import { ConversationChatRecorder } from './conversations/conversation-chat.recorder';
import type { Redis } from 'ioredis';

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
  /** the embeddings model of RAG (checked against the catalogue before the app is built); null = full text only */
  embedder: Embedder | null;
  /** ADMIN_API_KEY, or the key generated on first boot */
  adminKey: BootstrapAdminKey;
  /** SSRF guard settings of external sources and fetch_url (tests inject a resolver) */
  ssrf?: SsrfGuardOptions;
  /** told of each database or Redis connection as it opens (closed by the caller if the build fails) */
  track?: (connection: { close(): Promise<void> }) => void;
  providers?: Provider[];
}

/** Every table of every module, in id order: one migration run at boot. */
export function allMigrations(
  rag: { dimensions: number; textSearchConfig: string },
  extra: Migration[] = [],
): Migration[] {
  return [
    ...identityMigrations,
    ...billingMigrations,
    ...datasourceMigrations,
    ...createRagMigrations(rag),
    ...assistantMigrations,
    ...responseMigrations,
    ...conversationMigrations,
    ...extra,
  ].sort((a, b) => a.id.localeCompare(b.id));
}

/** Routes every chat request takes, kept to the shortest per-request chain. */
export const HOT_ROUTES = [
  { path: 'chat', method: RequestMethod.POST },
  { path: 'v1/chat/completions', method: RequestMethod.POST },
];

/** The process logger under a component name, in the shape the domain libs log to. */
function logAs(logger: PinoLogger, component: string): StorageLogger {
  const l = logger.child({ component });
  return {
    log: (m: string) => l.info(m),
    warn: (m: string) => l.warn(m),
    error: (m: string) => l.error(m),
  };
}

/**
 * One module per domain lib. Identity and rag are imported by other domain
 * modules too: the same instances, so each exists once.
 */
function domainModules(opts: GatewayModuleOptions): DynamicModule[] {
  const { config } = opts;
  const identity = IdentityModule.forRootAsync({
    useFactory: async () => ({
      oidcIssuer: config.auth.oidc?.issuer,
      oidcAudience: config.auth.oidc?.audience,
      oidcJwksUri: config.auth.oidc?.jwksUri,
      oidcUserIdClaim: config.auth.oidc?.userIdClaim,
      cognitoUserPoolId: config.auth.cognito?.userPoolId,
      cognitoClientId: config.auth.cognito?.clientId,
      apiKeySecret:
        config.auth.apiKeySecret?.reveal() ?? (await loadOrCreateApiKeySecret(config.dataDir)),
      bootstrapAdminKey: opts.adminKey,
    }),
  });
  const rag = RagModule.forRoot({
    embedder: opts.embedder,
    textSearchConfig: config.rag.textSearchConfig,
    logger: logAs(opts.logger, 'retrieval'),
  });
  return [
    LlmModule.forRoot(opts.llm),
    StorageModule.forRoot({
      database: {
        url: config.storage.databaseUrl?.reveal(),
        dataDir: config.dataDir,
        idleTimeoutMs: config.storage.databasePoolIdleMs,
      },
      redisUrl: config.storage.redisUrl?.reveal(),
      migrations: allMigrations({
        dimensions: config.rag.embeddingDimensions,
        textSearchConfig: config.rag.textSearchConfig,
      }),
      logger: logAs(opts.logger, 'storage'),
      track: opts.track,
    }),
    identity,
    RateLimitModule.forRoot({
      failOpen: config.limits.failOpen,
      timeoutMs: config.limits.redisTimeoutMs,
      // the budget store's tag: one script admits (limits and hold) in one Cluster slot
      hashTag: 'budget',
    }),
    BillingModule.forRootAsync({
      imports: [identity],
      inject: [ApiKeyService],
      useFactory: (apiKeys: ApiKeyService) => ({
        // a minted key's spend counts against the key that minted it
        keysUnder: (keyId: string) => apiKeys.descendants(keyId),
        logger: (component: string) => logAs(opts.logger, component),
      }),
    }),
    DatasourcesModule.forRootAsync({
      imports: [identity],
      inject: [AccountService],
      useFactory: (accounts: AccountService) => ({
        dataDir: config.dataDir,
        blobStore: config.storage.blobStore,
        files: {
          maxUploadBytes: config.rag.uploadMaxBytes,
          isMember: (userId: string, accountId: string) => accounts.isMember(userId, accountId),
        },
        worker: {
          enabled: config.rag.ingestionWorker,
          maxIdlePollMs: config.rag.jobIdlePollMaxMs,
          listen: config.rag.jobWake === 'listen',
        },
        extraction: config.extraction,
        ssrf: opts.ssrf,
        logger: logAs(opts.logger, 'ingestion'),
      }),
    }),
    rag,
    AssistantsModule.forRoot({ imports: [identity, rag] }),
    ResponsesModule.forRoot({
      retentionMs: config.responses.retentionMs,
      purgeIntervalMs: config.responses.purgeIntervalMs,
      logger: {
        error: (msg, err) => opts.logger.child({ component: 'responses' }).error({ err }, msg),
      },
    }),
    { module: ConversationsModule },
  ];
}

/** The app's own providers: the HTTP edge's services, the chat run, streaming. */
const appProviders: Provider[] = [
  ...healthProviders,
  { provide: ROUTE_CONTROLLERS, useValue: ROUTED_CONTROLLERS },
  {
    // admission in one Redis round trip when limits, budgets and version are all on Redis
    provide: ATOMIC_ADMISSION,
    inject: [REDIS, LIMIT_STORE, BUDGET_STORE, LIMITS_VERSION],
    useFactory: atomicAdmission,
  },
  SpendControl,
  {
    provide: KillSwitch,
    inject: [StreamRegistry, REDIS],
    useFactory: (registry: StreamRegistry, redis: Redis | null) => new KillSwitch(registry, redis),
  },
  MetricsService,
  {
    provide: ChatTraces,
    inject: [APP_CONFIG, { token: TRACE_EXPORTER, optional: true }],
    useFactory: (c: AppConfig, exporter?: SpanExporter) =>
      new ChatTraces({ ...c.tracing, exporter }),
  },
  DrainState,
  StreamRegistry,
  EmfService,
  UsageRecorder,
  RunChatUseCase,
  ChatStreamRunner,
  ConversationChatRecorder,
];

/**
 * The whole app. Each domain lib contributes one module that owns its resources
 * and their lifecycle; Nest builds them in dependency order and runs their hooks:
 * - boot: storage connects and migrates (first: it is global), billing re-seeds
 *   budgets, rag checks the vector size and registers the ingestion handler, the
 *   stored-responses purge starts, and once every module is initialised the
 *   ingestion worker starts (datasources, on bootstrap);
 * - shutdown: the ingestion worker stops and gives its leases back, the HTTP
 *   server closes (in-flight requests finish), then the ledger, the last-used
 *   times and the pending stored responses are flushed, and storage closes
 *   Redis and the database last.
 */
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
        ...domainModules(opts),
      ],
      controllers: ROUTED_CONTROLLERS,
      providers: [...appProviders, ...(opts.providers ?? [])],
    };
  }
}
