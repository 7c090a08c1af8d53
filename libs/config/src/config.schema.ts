import { z } from 'zod';

/** Empty strings count as unset: `FOO=` in an env file must not become a value. */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const intInRange = (def: number, min: number, max: number) =>
  optionalString
    .pipe(
      z
        .string()
        .regex(/^\d+$/, 'must be a whole number')
        .transform(Number)
        .pipe(z.number().int().min(min).max(max))
        .optional(),
    )
    .transform((v) => v ?? def);

const bool = (def: boolean) =>
  optionalString
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional())
    .transform((v) => (v === undefined ? def : ['true', '1', 'yes'].includes(v)));

const url = (protocols: string[]) =>
  optionalString.pipe(
    z
      .string()
      .refine(
        (v) => {
          try {
            return protocols.includes(new URL(v).protocol);
          } catch {
            return false;
          }
        },
        `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}`,
      )
      .optional(),
  );

export const envSchema = z.object({
  NODE_ENV: optionalString,
  PORT: intInRange(8080, 0, 65535),
  /**
   * Separate port for Prometheus /metrics (0 = any free port). Unset: /metrics is served on
   * PORT (local use). Set in AWS, where no load balancer or CDN reaches it.
   */
  METRICS_PORT: optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(0).max(65535))
      .optional(),
  ),
  HOST: optionalString.transform((v) => v ?? '0.0.0.0'),
  DATA_DIR: optionalString.transform((v) => v ?? './data'),
  LOG_LEVEL: optionalString.pipe(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  ),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  /** Seconds an idle pooled PostgreSQL connection stays open; lets Aurora Serverless pause. */
  DATABASE_POOL_IDLE_SECONDS: intInRange(30, 1, 3600),
  REDIS_URL: url(['redis:', 'rediss:']),
  BLOB_STORE: optionalString.pipe(
    z
      .string()
      .regex(/^(fs|s3:\/\/[a-z0-9.-]{3,63}(\/.*)?)$/, 'must be "fs" or s3://bucket/prefix')
      .optional(),
  ),
  MODELS_FILE: optionalString,
  ADMIN_API_KEY: optionalString.pipe(
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: url(['http:', 'https:']),
  OPENAI_COMPATIBLE_BASE_URL: url(['http:', 'https:']),
  OPENAI_COMPATIBLE_API_KEY: optionalString,
  AZURE_OPENAI_API_KEY: optionalString,
  AZURE_OPENAI_ENDPOINT: url(['http:', 'https:']),
  AZURE_OPENAI_API_VERSION: optionalString,
  AWS_REGION: optionalString,
  BEDROCK_ENDPOINT: url(['http:', 'https:']),
  /** Bedrock is opt-in: AWS_REGION alone is set on every ECS task. */
  BEDROCK_ENABLED: bool(false),
  GEMINI_API_KEY: optionalString,
  GEMINI_BASE_URL: url(['http:', 'https:']),
  OIDC_ISSUER: url(['http:', 'https:']),
  OIDC_AUDIENCE: optionalString,
  COGNITO_USER_POOL_ID: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z]{2}-[a-z]+-\d_[A-Za-z0-9]+$/, 'must look like us-east-1_AbC123')
      .optional(),
  ),
  COGNITO_CLIENT_ID: optionalString,
  OIDC_JWKS_URI: url(['http:', 'https:']),
  OIDC_USER_ID_CLAIM: optionalString,
  /** HMAC secret for API key hashes; must be shared by every replica. */
  API_KEY_SECRET: optionalString.pipe(
    z.string().min(32, 'must be at least 32 characters').optional(),
  ),
  RATE_LIMIT_REQUESTS_PER_MINUTE: intInRange(600, 1, 10_000_000),
  RATE_LIMIT_TOKENS_PER_MINUTE: intInRange(2_000_000, 1, 1_000_000_000),
  RATE_LIMIT_CONCURRENT_STREAMS: intInRange(50, 1, 1_000_000),
  RATE_LIMIT_FAIL_OPEN: bool(true),
  RATE_LIMIT_REDIS_TIMEOUT_MS: intInRange(500, 10, 60_000),
  BUDGET_FAIL_OPEN: bool(false),
  CORS_ORIGINS: optionalString,
  /** the built web app (default: the build shipped next to the gateway) */
  WEB_DIR: optionalString,
  /** public client id of the web app's OIDC sign-in (Cognito: COGNITO_CLIENT_ID by default) */
  WEB_OIDC_CLIENT_ID: optionalString,
  WEB_OIDC_SCOPES: optionalString,
  SHUTDOWN_DRAIN_SECONDS: intInRange(100, 0, 3600),
  HEARTBEAT_SECONDS: intInRange(15, 1, 300),
  BODY_LIMIT_BYTES: intInRange(1024 * 1024, 1024, 64 * 1024 * 1024),
  MAX_MESSAGES: intInRange(500, 1, 100000),
  UPSTREAM_MAX_RETRIES: intInRange(2, 0, 10),
  UPSTREAM_RETRY_DEADLINE_SECONDS: intInRange(30, 1, 600),
  UPSTREAM_TTFT_TIMEOUT_SECONDS: intInRange(60, 1, 3600),
  UPSTREAM_IDLE_TIMEOUT_SECONDS: intInRange(60, 1, 3600),
  /** a non-streaming upstream answer (for a non-streaming client) has no tokens to time: one limit */
  UPSTREAM_WHOLE_ANSWER_TIMEOUT_SECONDS: intInRange(600, 1, 3600),
  BREAKER_FAILURE_THRESHOLD: intInRange(5, 1, 1000),
  BREAKER_COOLDOWN_SECONDS: intInRange(30, 1, 3600),
  /** Serve models from an already running simulator instead of starting one in-process. */
  SIMULATOR_URL: url(['http:', 'https:']),
  /** Force simulated models even when provider credentials are set. */
  SIMULATE: bool(false),
  /** Publish CloudWatch EMF metric lines to stdout (on in ECS). */
  EMF_METRICS: bool(false),
  EMF_INTERVAL_SECONDS: intInRange(60, 1, 3600),
  /**
   * OpenTelemetry traces of chat runs (GenAI semantic conventions) over OTLP/HTTP to
   * OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318, e.g. an ADOT collector).
   */
  OTEL_TRACES_ENABLED: bool(false),
  OTEL_SERVICE_NAME: optionalString,
  /** Catalogue id of map-reduce's map calls (default: the request's model); usually a cheaper one. */
  ASSISTANT_MAP_MODEL: optionalString,
  /** Catalogue id that summarises dropped turns (default: the map model, else the request's). */
  ASSISTANT_SUMMARY_MODEL: optionalString,
  ASSISTANT_MAP_CONCURRENCY: intInRange(3, 1, 64),
  /** Model calls of one agent run. */
  AGENT_MAX_STEPS: intInRange(6, 1, 100),
  AGENT_DEADLINE_SECONDS: intInRange(120, 1, 3600),
  /** Offer the agent's fetch_url tool (through the SSRF guard). */
  AGENT_FETCH_URL: bool(false),
  /** Code interpreter: largest document file put in the code sandbox. */
  CODE_SANDBOX_MAX_FILE_BYTES: intInRange(32 * 1024 * 1024, 1, 512 * 1024 * 1024),
  RESPONSES_RETENTION_DAYS: intInRange(30, 1, 3650),
  RESPONSES_PURGE_INTERVAL_MINUTES: intInRange(60, 1, 24 * 60),
  /** Upload size limit of POST /files. */
  UPLOAD_MAX_BYTES: intInRange(25 * 1024 * 1024, 1, 5 * 1024 * 1024 * 1024),
  /**
   * Catalogue id of the embeddings model for RAG; `none` turns vectors off.
   * Unset: none with real providers, `text-embedding-3-small` when simulated and served.
   */
  EMBEDDING_MODEL: optionalString,
  /** Vector column size, fixed once migrated; pgvector's HNSW index stops at 2000. */
  EMBEDDING_DIMENSIONS: intInRange(1536, 1, 2000),
  /** Worker threads that read uploaded documents (each with the heap limit below). */
  EXTRACTION_WORKERS: intInRange(1, 1, 16),
  /** V8 heap limit of one extraction worker, in MiB; a file needing more fails. */
  EXTRACTION_MAX_HEAP_MB: intInRange(512, 32, 16384),
  /** Wall-clock limit of reading one file; the worker is terminated past it. */
  EXTRACTION_TIMEOUT_SECONDS: intInRange(120, 1, 3600),
  /** Bytes a DOCX/XLSX may actually inflate to (counted while inflating, not declared). */
  EXTRACTION_MAX_UNZIPPED_BYTES: intInRange(128 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
  /** Pages a PDF may have. */
  EXTRACTION_MAX_PDF_PAGES: intInRange(5000, 1, 1_000_000),
  /** Characters of text one file may yield. */
  EXTRACTION_MAX_CHARS: intInRange(20_000_000, 1000, 1_000_000_000),
  /** Run the ingestion worker in this process (false for API-only replicas). */
  INGESTION_WORKER: bool(true),
  /**
   * Longest wait between job-queue polls when idle (the wait doubles from 1 s while no
   * job is found; a job enqueued by this process wakes the worker at once). Long waits let
   * an idle Aurora Serverless pause.
   */
  JOB_IDLE_POLL_MAX_SECONDS: intInRange(30, 1, 86400),
  /**
   * How the ingestion worker learns of jobs enqueued by other replicas: `listen` keeps a
   * PostgreSQL LISTEN session open (instant), `poll` holds no connection between polls
   * (jobs of this process still start at once), so an idle Aurora Serverless can pause.
   */
  JOB_WAKE: optionalString.pipe(z.enum(['listen', 'poll']).optional()),
  /** Postgres text search configuration of the chunk index (fixed once migrated). */
  TEXT_SEARCH_CONFIG: optionalString.pipe(
    z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, 'must be a text search configuration name, e.g. english')
      .optional(),
  ),
});

export type RawEnv = z.infer<typeof envSchema>;
