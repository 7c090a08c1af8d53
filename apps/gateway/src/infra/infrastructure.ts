import {
  AccountService,
  ApiKeyCredentialVerifier,
  ApiKeyService,
  JwtCredentialVerifier,
  JwtVerifierSet,
  SqlAccountRepository,
  SqlApiKeyRepository,
  createJwtVerifiers,
  identityMigrations,
  loadOrCreateApiKeySecret,
  type CredentialVerifier,
} from '@switchboard/auth';
import {
  BudgetHoldJournal,
  BudgetRepository,
  BudgetSeeder,
  BudgetService,
  InProcessBudgetStore,
  RedisBudgetStore,
  UsageLedger,
  UsageReports,
  billingMigrations,
} from '@switchboard/billing';
import { assistantMigrations } from '@switchboard/assistants';
import { conversationMigrations } from '@switchboard/conversations';
import { ConfigError, type AppConfig } from '@switchboard/config';
import {
  ExternalSourceService,
  ExtractionService,
  FilesService,
  FsBlobStore,
  INGEST_FILE_JOB,
  JobQueue,
  JobWorker,
  S3BlobStore,
  SsrfGuard,
  datasourceMigrations,
  type SsrfGuardOptions,
  type BlobStore,
  type IngestFilePayload,
  type Job,
} from '@switchboard/datasources';
import type { LlmService } from '@switchboard/llm';
import {
  ChunkIndexRepository,
  ContextBuilder,
  DataSourceResolver,
  IngestionPipeline,
  LlmEmbedder,
  RetrievalService,
  createRagMigrations,
  type Embedder,
} from '@switchboard/rag';
import {
  StoredResponseRepository,
  StoredResponses,
  responseMigrations,
} from '@switchboard/responses';
import { MemoryLimitStore, RateLimitService, RedisLimitStore } from '@switchboard/rate-limit';
import {
  Migrator,
  RedisConnection,
  createDatabase,
  type Database,
  type Migration,
} from '@switchboard/storage';
import { S3Client } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ReadinessCheck } from '../health/health.controller';
import {
  FailOpenTally,
  MemoryLimitsVersion,
  MemoryRequestClaims,
  RedisLimitsVersion,
  RedisRequestClaims,
  type LimitsVersion,
  type RequestClaims,
} from '@switchboard/rate-limit';

const JOURNAL_PRUNE_EVERY_MS = 5 * 60_000;
/** how soon an eviction of budget keys is noticed (the seed marker is dropped) */
const EVICTION_CHECK_EVERY_MS = 2_000;

/** Everything with I/O that the request path needs, built once at boot in dependency order. */
export interface Infrastructure {
  db: Database;
  redis?: RedisConnection;
  apiKeys: ApiKeyService;
  accounts: AccountService;
  verifiers: CredentialVerifier[];
  rateLimits: RateLimitService;
  budgets: BudgetService;
  budgetRepo: BudgetRepository;
  /** durable copy of budget holds, restored when the budget store loses its data */
  holdJournal: BudgetHoldJournal;
  budgetSeeder: BudgetSeeder;
  /** client request ids in flight, per principal */
  requestClaims: RequestClaims;
  limitsVersion: LimitsVersion;
  failOpen: FailOpenTally;
  ledger: UsageLedger;
  reports: UsageReports;
  blobs: BlobStore;
  files: FilesService;
  jobs: JobQueue;
  /** the ingestion worker of this process (idle unless INGESTION_WORKER and started) */
  worker: JobWorker;
  /** null when retrieval is full-text only */
  embedder: Embedder | null;
  ingestion: IngestionPipeline;
  /** the extraction worker pool of this process */
  extraction: ExtractionService;
  retrieval: RetrievalService;
  dataSources: DataSourceResolver;
  contextBuilder: ContextBuilder;
  externalSources: ExternalSourceService;
  ssrfGuard: SsrfGuard;
  /** stored responses of the Responses API (purged past their retention) */
  responses: StoredResponses;
  readinessChecks: ReadinessCheck[];
  /**
   * Reachability of the database and the cache as last observed by real traffic (no
   * probe query): /ready details, the DependenciesDown metric and its alarm.
   */
  dependencies(): DependencyState[];
  /**
   * Starts the ingestion worker (when INGESTION_WORKER); called once the app
   * listens, so a job never runs against a half-built app.
   */
  startWorker(): Promise<void>;
  /** stops the worker (releasing its leases), flushes the ledger and last-used times, then closes connections */
  close(): Promise<void>;
}

export interface InfrastructureOptions {
  /** SSRF guard settings of external sources and fetch_url (tests inject a resolver) */
  ssrf?: SsrfGuardOptions;
}

export interface DependencyState {
  name: 'database' | 'redis';
  up: boolean;
  details: Record<string, unknown>;
}

export interface MigrationOptions {
  /** embedding vector size (EMBEDDING_DIMENSIONS) */
  dimensions: number;
  /** Postgres text search configuration (TEXT_SEARCH_CONFIG) */
  textSearchConfig: string;
}

export function allMigrations(rag: MigrationOptions, extra: Migration[] = []): Migration[] {
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

/** How long a stopping worker waits for its jobs before releasing their leases. */
const WORKER_STOP_GRACE_MS = 10_000;

/**
 * The embeddings model of RAG: EMBEDDING_MODEL when set (it must be a served
 * embeddings model), else `text-embedding-3-small` when the simulator serves it.
 * Real providers get no default: embedding every upload costs money.
 */
export function resolveEmbedder(config: AppConfig, llm: LlmService): Embedder | null {
  const { embeddingModel, embeddingDimensions } = config.rag;
  if (embeddingModel === null) return null;
  let id = embeddingModel;
  if (id === undefined) {
    const sim = llm.models().find((m) => m.id === 'text-embedding-3-small' && m.simulated);
    if (!sim) return null;
    id = sim.id;
  }
  const model = llm.models().find((m) => m.id === id);
  if (!model)
    throw new ConfigError([
      `EMBEDDING_MODEL: "${id}" is not a served model of the catalogue (or its provider is not configured)`,
    ]);
  if (!model.capabilities.includes('embeddings'))
    throw new ConfigError([`EMBEDDING_MODEL: "${id}" is not an embeddings model`]);
  return new LlmEmbedder(llm, id, embeddingDimensions);
}

/**
 * The vector column's size is fixed by the first migration; vectors of another
 * size would fail every ingestion, so a changed EMBEDDING_DIMENSIONS stops the boot.
 */
async function assertIndexDimensions(db: Database, dimensions: number): Promise<void> {
  if (!db.hasVector) return;
  const r = await db.query<{ type: string }>(
    `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped`,
  );
  const m = /^vector\((\d+)\)$/.exec(r.rows[0]?.type ?? '');
  if (m && Number(m[1]) !== dimensions)
    throw new ConfigError([
      `EMBEDDING_DIMENSIONS: the chunk index holds vectors of ${m[1]} dimensions, not ${dimensions}; changing it needs a new migration and re-embedding`,
    ]);
}

async function failFilesOfDeadJobs(
  jobs: JobQueue,
  files: FilesService,
  ingestion: IngestionPipeline,
): Promise<void> {
  for (const dead of await jobs.listDead(1000)) {
    if (dead.kind !== INGEST_FILE_JOB) continue;
    const job = dead as Job<IngestFilePayload>;
    const file = await files.findStored(job.payload.fileId);
    if (file && (file.status === 'queued' || file.status === 'processing'))
      await ingestion.onDead(job.payload, job.lastError ?? 'the process stopped', job);
  }
}

export async function createInfrastructure(
  config: AppConfig,
  logger: Logger,
  llm: LlmService,
  extraMigrations: Migration[] = [],
  options: InfrastructureOptions = {},
): Promise<Infrastructure> {
  // before any I/O: a bad EMBEDDING_MODEL stops the boot with its name
  const embedder = resolveEmbedder(config, llm);
  const libLogger = (component: string) => {
    const l = logger.child({ component });
    return {
      log: (m: string) => l.info(m),
      warn: (m: string) => l.warn(m),
      error: (m: string) => l.error(m),
    };
  };
  const db = await createDatabase({
    url: config.storage.databaseUrl?.reveal(),
    dataDir: config.dataDir,
    idleTimeoutMs: config.storage.databasePoolIdleMs,
    logger: libLogger('storage'),
  });
  try {
    await new Migrator(db, libLogger('migrator')).migrate(
      allMigrations(
        {
          dimensions: config.rag.embeddingDimensions,
          textSearchConfig: config.rag.textSearchConfig,
        },
        extraMigrations,
      ),
    );

    let redis: RedisConnection | undefined;
    if (config.storage.redisUrl) {
      redis = new RedisConnection(config.storage.redisUrl.reveal());
      await redis.waitUntilReady(5000);
    }

    const secret =
      config.auth.apiKeySecret?.reveal() ?? (await loadOrCreateApiKeySecret(config.dataDir));
    const apiKeys = new ApiKeyService(new SqlApiKeyRepository(db), { secret });
    const accounts = new AccountService(new SqlAccountRepository(db));
    const jwtSet = new JwtVerifierSet(
      createJwtVerifiers({
        oidcIssuer: config.auth.oidc?.issuer,
        oidcAudience: config.auth.oidc?.audience,
        oidcJwksUri: config.auth.oidc?.jwksUri,
        oidcUserIdClaim: config.auth.oidc?.userIdClaim,
        cognitoUserPoolId: config.auth.cognito?.userPoolId,
        cognitoClientId: config.auth.cognito?.clientId,
        apiKeySecret: secret,
      }),
    );
    const verifiers: CredentialVerifier[] = [
      new ApiKeyCredentialVerifier(apiKeys),
      new JwtCredentialVerifier(jwtSet, accounts),
    ];

    const rateLimits = new RateLimitService(
      redis
        ? new RedisLimitStore(redis.client, { timeoutMs: config.limits.redisTimeoutMs })
        : new MemoryLimitStore(),
      { failOpen: config.limits.failOpen },
    );
    // With Redis the store refuses reservations whenever its seed marker is gone
    // (data lost), until spend and open holds are restored from PostgreSQL.
    const budgetStore = redis
      ? new RedisBudgetStore(redis.client, { requireSeed: true })
      : new InProcessBudgetStore();
    const budgets = new BudgetService(budgetStore);
    const budgetRepo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { logger: libLogger('ledger') });
    const reports = new UsageReports(db);
    const holdJournal = new BudgetHoldJournal(db, { enabled: redis !== undefined });
    const budgetSeeder = new BudgetSeeder(budgetStore, budgetRepo, ledger, holdJournal, {
      logger: libLogger('budgets'),
      // a minted key's spend counts against the key that minted it
      keysUnder: (keyId) => apiKeys.descendants(keyId),
    });
    const requestClaims: RequestClaims = redis
      ? new RedisRequestClaims(redis.client)
      : new MemoryRequestClaims();
    const limitsVersion: LimitsVersion = redis
      ? new RedisLimitsVersion(redis.client)
      : new MemoryLimitsVersion();
    const failOpen = new FailOpenTally();

    // Budget spend lives in Redis (or memory), which keeps nothing across restarts:
    // rebuild it from the ledger, the source of truth. Seeding only ever raises.
    await budgetSeeder.seed();
    if (redis) await warnUnlessNoEviction(redis, logger);
    // settled hold rows are only needed until the ledger has their cost
    const journalPrune = setInterval(() => {
      holdJournal
        .prune()
        .catch((e: unknown) => logger.warn({ err: e }, 'budget hold journal prune failed'));
    }, JOURNAL_PRUNE_EVERY_MS);
    journalPrune.unref();
    // eviction may take a spend counter and leave the seed marker: treat any as loss
    const evictionWatch =
      budgetStore instanceof RedisBudgetStore
        ? setInterval(() => {
            budgetStore
              .dropSeedIfEvicted()
              .then((dropped) => {
                if (!dropped) return;
                logger.error(
                  'Redis evicted keys: budgets may have lost spend; re-seeding from the ledger',
                );
                return budgetSeeder.seed();
              })
              .catch((e: unknown) => logger.warn({ err: e }, 'budget eviction check failed'));
          }, EVICTION_CHECK_EVERY_MS)
        : undefined;
    evictionWatch?.unref();

    // Documents: blobs, files, the durable ingestion queue, retrieval.
    const store = config.storage.blobStore;
    let blobs: BlobStore;
    if (store.kind === 's3') {
      blobs = new S3BlobStore({
        client: new S3Client({}),
        bucket: store.bucket,
        prefix: store.prefix,
      });
    } else {
      const fsStore = new FsBlobStore(join(config.dataDir, 'blobs'));
      await fsStore.init();
      blobs = fsStore;
    }
    const jobs = new JobQueue(db);
    const worker = new JobWorker(jobs, {
      maxIdlePollMs: config.rag.jobIdlePollMaxMs,
      listen: config.rag.jobWake === 'listen',
      logger: libLogger('ingestion'),
    });
    const files = new FilesService(db, blobs, jobs, {
      maxUploadBytes: config.rag.uploadMaxBytes,
      isMember: (userId, accountId) => accounts.isMember(userId, accountId),
      // another replica's worker picks the job up on its next poll
      onQueued: () => worker.wake(),
    });
    const index = new ChunkIndexRepository(db);
    if (embedder) await assertIndexDimensions(db, embedder.dimensions);
    const extraction = new ExtractionService(config.extraction);
    const ingestion = new IngestionPipeline(db, files, blobs, extraction, index, embedder);
    worker.register(INGEST_FILE_JOB, ingestion);
    const retrieval = new RetrievalService(index, embedder, {
      textSearchConfig: config.rag.textSearchConfig,
      logger: libLogger('retrieval'),
    });
    const ssrfGuard = new SsrfGuard(options.ssrf);
    const externalSources = new ExternalSourceService(db, { guard: ssrfGuard });
    const dataSources = new DataSourceResolver(files, externalSources);
    const contextBuilder = new ContextBuilder(files, retrieval);
    const responsesLog = logger.child({ component: 'responses' });
    const responses = new StoredResponses(new StoredResponseRepository(db), {
      retentionMs: config.responses.retentionMs,
      purgeIntervalMs: config.responses.purgeIntervalMs,
      logger: { error: (msg, err) => responsesLog.error({ err }, msg) },
    });
    responses.startPurging();

    // Passive: no query per health check (the ALB checks every few seconds, which would
    // keep Aurora Serverless from ever pausing and turn a blip into a failed check).
    const dependencies = (): DependencyState[] => [
      {
        name: 'database',
        up: db.connectionState().up,
        details: { kind: db.kind, vector: db.hasVector, ...db.connectionState() },
      },
      ...(redis
        ? [{ name: 'redis' as const, up: redis.up, details: { connection: redis.status } }]
        : []),
    ];
    const readinessChecks: ReadinessCheck[] = [
      ...dependencies().map(({ name }): ReadinessCheck => (indicator) => {
        const state = dependencies().find((d) => d.name === name);
        const i = indicator.check(name);
        return Promise.resolve(
          state?.up ? i.up(state.details) : i.down({ ...state?.details, reachable: false }),
        );
      }),
      (indicator) =>
        Promise.resolve(
          indicator.check('policies').up({
            rateLimits: rateLimits.describe(),
            budgets: {
              backend: redis ? 'redis' : 'memory',
              failOpen: config.budgets.failOpen,
              reseeding: budgetSeeder.seeding,
            },
            requestClaims: { backend: requestClaims.backend },
            admission: failOpen.snapshot(),
          }),
        ),
      async (indicator) =>
        indicator.check('retrieval').up({
          ...(await retrieval.describe()),
          blobStore: blobs.kind,
          ingestionWorker: config.rag.ingestionWorker,
        }),
    ];

    let workerStarted = false;
    const startWorker = async () => {
      if (!config.rag.ingestionWorker || workerStarted) return;
      workerStarted = true;
      // embedded PGlite has exactly one process: a job still `running` was cut off by the last stop
      if (db.kind === 'pglite') {
        const r = await jobs.recoverOrphans();
        if (r.requeued + r.dead > 0)
          logger.info(r, 'recovered ingestion jobs interrupted by the last stop');
        // a job that used its last attempt is dead-lettered there without the
        // handler hearing of it: its file must not stay `processing` forever
        if (r.dead > 0) await failFilesOfDeadJobs(jobs, files, ingestion);
      }
      worker.start();
    };

    return {
      db,
      redis,
      apiKeys,
      accounts,
      verifiers,
      rateLimits,
      budgets,
      budgetRepo,
      holdJournal,
      budgetSeeder,
      requestClaims,
      limitsVersion,
      failOpen,
      ledger,
      reports,
      blobs,
      files,
      jobs,
      worker,
      embedder,
      ingestion,
      extraction,
      retrieval,
      dataSources,
      contextBuilder,
      externalSources,
      ssrfGuard,
      responses,
      readinessChecks,
      dependencies,
      startWorker,
      close: async () => {
        // before the database closes: in-flight jobs finish or give their lease back
        await worker
          .stop(WORKER_STOP_GRACE_MS)
          .catch((e: unknown) => logger.error({ err: e }, 'ingestion worker stop failed'));
        await extraction.close();
        await responses.close();
        await ledger
          .flush({ timeoutMs: 10_000 })
          .catch((e: unknown) => logger.error({ err: e }, 'ledger flush failed'));
        ledger.close();
        clearInterval(journalPrune);
        clearInterval(evictionWatch);
        await apiKeys.close();
        await redis?.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

/**
 * Budget keys must never be evicted: an evicted spend counter is a budget reset.
 * Managed services (ElastiCache) refuse CONFIG; then the operator's setting is
 * trusted and the seed marker still catches a wholesale loss.
 */
async function warnUnlessNoEviction(redis: RedisConnection, logger: Logger): Promise<void> {
  try {
    const r = await redis.client.config('GET', 'maxmemory-policy');
    const policy = r[1];
    if (policy && policy !== 'noeviction')
      logger.warn(
        { policy },
        'Redis maxmemory-policy is not noeviction: evicted budget keys would under-count spend',
      );
  } catch {
    // CONFIG is disabled on managed Redis/Valkey
  }
}
