import { envSchema, type RawEnv } from './config.schema';

/** Marks a value that must never be logged. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
}

export interface AppConfig {
  env: string;
  http: {
    port: number;
    /** Prometheus /metrics on its own port; undefined = on `port` */
    metricsPort?: number;
    host: string;
    bodyLimitBytes: number;
    corsOrigins: string[];
  };
  dataDir: string;
  logLevel: string;
  chat: {
    maxMessages: number;
    heartbeatMs: number;
  };
  shutdown: { drainSeconds: number };
  storage: {
    databaseUrl?: Secret;
    /** ms before an idle pooled connection is closed */
    databasePoolIdleMs: number;
    redisUrl?: Secret;
    blobStore: { kind: 'fs' } | { kind: 's3'; bucket: string; prefix: string };
  };
  auth: {
    adminApiKey?: Secret;
    oidc?: { issuer: string; audience: string; jwksUri?: string; userIdClaim?: string };
    /** keyed-hash secret for API keys; generated under DATA_DIR in embedded mode */
    apiKeySecret?: Secret;
    cognito?: { userPoolId: string; clientId: string };
  };
  limits: {
    /** defaults per key, per user and per account; overrides per key and account */
    requestsPerMinute: number;
    tokensPerMinute: number;
    concurrentStreams: number;
    failOpen: boolean;
    /** how long one Redis limit check may take before the failure policy applies */
    redisTimeoutMs: number;
  };
  budgets: { failOpen: boolean };
  llm: {
    modelsFile?: string;
    resilience: {
      maxRetries: number;
      retryDeadlineMs: number;
      ttftTimeoutMs: number;
      idleTimeoutMs: number;
      /** a non-streaming upstream call, from request to complete answer */
      wholeTimeoutMs: number;
      breakerThreshold: number;
      breakerCooldownMs: number;
    };
    simulate: boolean;
    simulatorUrl?: string;
    openai?: { apiKey: Secret; baseUrl?: string };
    /** Ollama, vLLM, llama.cpp... */
    openaiCompatible?: { baseUrl: string; apiKey?: Secret };
    azure?: { apiKey?: Secret; endpoint: string; apiVersion: string };
    bedrock?: { region: string; endpoint?: string };
    gemini?: { apiKey: Secret; baseUrl?: string };
  };
  metrics: { emf: boolean; emfIntervalMs: number };
  /** OpenTelemetry traces (OTLP/HTTP; the exporter reads OTEL_EXPORTER_OTLP_* itself) */
  tracing: { enabled: boolean; serviceName: string };
  web: {
    /** directory of the built web app; unset = the build next to the gateway */
    dir?: string;
    /** browser sign-in (authorization code + PKCE) when an issuer and a public client are set */
    oidc?: { issuer: string; clientId: string; scopes: string };
  };
  assistants: {
    mapModelId?: string;
    summaryModelId?: string;
    mapConcurrency: number;
    agentMaxSteps: number;
    agentDeadlineMs: number;
    /** offer the agent's fetch_url tool */
    fetchUrl: boolean;
    sandboxMaxFileBytes: number;
  };
  /** document extraction: worker pool and per-file limits */
  extraction: {
    workers: number;
    maxHeapMb: number;
    timeoutMs: number;
    maxUnzippedBytes: number;
    maxPdfPages: number;
    maxChars: number;
  };
  responses: {
    /** how long stored Responses API responses are kept */
    retentionMs: number;
    purgeIntervalMs: number;
  };
  rag: {
    uploadMaxBytes: number;
    /**
     * `undefined`: the default (a served `text-embedding-3-small` when simulated,
     * none otherwise); `null`: vectors explicitly off; else a catalogue id,
     * checked against the catalogue at boot.
     */
    embeddingModel: string | null | undefined;
    embeddingDimensions: number;
    ingestionWorker: boolean;
    /** longest idle wait between job-queue polls */
    jobIdlePollMaxMs: number;
    /** `listen`: LISTEN/NOTIFY wakes the worker; `poll`: no session held between polls */
    jobWake: 'listen' | 'poll';
    textSearchConfig: string;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function parseBlobStore(v: string | undefined): AppConfig['storage']['blobStore'] {
  if (!v || v === 'fs') return { kind: 'fs' };
  const u = new URL(v);
  return { kind: 's3', bucket: u.hostname, prefix: u.pathname.replace(/^\/+/, '') };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof Secret)) {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

/**
 * The web app's sign-in: the OIDC issuer with WEB_OIDC_CLIENT_ID, or the
 * Cognito user pool's issuer with its app client (COGNITO_CLIENT_ID unless
 * WEB_OIDC_CLIENT_ID names another one).
 */
function webOidc(e: RawEnv): AppConfig['web']['oidc'] {
  const scopes = e.WEB_OIDC_SCOPES ?? 'openid profile email';
  if (e.OIDC_ISSUER && e.WEB_OIDC_CLIENT_ID)
    return { issuer: e.OIDC_ISSUER, clientId: e.WEB_OIDC_CLIENT_ID, scopes };
  if (e.COGNITO_USER_POOL_ID && e.COGNITO_CLIENT_ID) {
    const region = e.COGNITO_USER_POOL_ID.split('_')[0];
    return {
      issuer: `https://cognito-idp.${region}.amazonaws.com/${e.COGNITO_USER_POOL_ID}`,
      clientId: e.WEB_OIDC_CLIENT_ID ?? e.COGNITO_CLIENT_ID,
      scopes,
    };
  }
  return undefined;
}

/**
 * Parses the environment once; throws a ConfigError naming every bad variable. Longer
 * than 80 lines on purpose: it is the one table from variables to typed settings, read
 * top to bottom; cut into pieces it would scatter that table.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(problems);
  }
  const e: RawEnv = parsed.data;
  const problems: string[] = [];
  if (e.OIDC_AUDIENCE && !e.OIDC_ISSUER)
    problems.push('OIDC_ISSUER: required when OIDC_AUDIENCE is set');
  if (e.COGNITO_CLIENT_ID && !e.COGNITO_USER_POOL_ID)
    problems.push('COGNITO_USER_POOL_ID: required when COGNITO_CLIENT_ID is set');
  if (e.AZURE_OPENAI_API_KEY && !e.AZURE_OPENAI_ENDPOINT)
    problems.push('AZURE_OPENAI_ENDPOINT: required when AZURE_OPENAI_API_KEY is set');
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT)
    problems.push('METRICS_PORT: must differ from PORT (unset it to serve /metrics on PORT)');
  if (problems.length) throw new ConfigError(problems);

  const secret = (v?: string) => (v === undefined ? undefined : new Secret(v));
  const bedrockOn = e.BEDROCK_ENABLED || e.BEDROCK_ENDPOINT !== undefined;
  const bedrockRegion = bedrockOn ? (e.AWS_REGION ?? 'us-east-1') : undefined;
  const config: AppConfig = {
    env: e.NODE_ENV ?? 'development',
    http: {
      port: e.PORT,
      metricsPort: e.METRICS_PORT,
      host: e.HOST,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      corsOrigins: (e.CORS_ORIGINS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    },
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL ?? (e.NODE_ENV === 'test' ? 'warn' : 'info'),
    chat: { maxMessages: e.MAX_MESSAGES, heartbeatMs: e.HEARTBEAT_SECONDS * 1000 },
    shutdown: { drainSeconds: e.SHUTDOWN_DRAIN_SECONDS },
    storage: {
      databaseUrl: secret(e.DATABASE_URL),
      databasePoolIdleMs: e.DATABASE_POOL_IDLE_SECONDS * 1000,
      redisUrl: secret(e.REDIS_URL),
      blobStore: parseBlobStore(e.BLOB_STORE),
    },
    auth: {
      adminApiKey: secret(e.ADMIN_API_KEY),
      oidc:
        e.OIDC_ISSUER && e.OIDC_AUDIENCE
          ? {
              issuer: e.OIDC_ISSUER,
              audience: e.OIDC_AUDIENCE,
              jwksUri: e.OIDC_JWKS_URI,
              userIdClaim: e.OIDC_USER_ID_CLAIM,
            }
          : undefined,
      cognito:
        e.COGNITO_USER_POOL_ID && e.COGNITO_CLIENT_ID
          ? { userPoolId: e.COGNITO_USER_POOL_ID, clientId: e.COGNITO_CLIENT_ID }
          : undefined,
      apiKeySecret: secret(e.API_KEY_SECRET),
    },
    limits: {
      requestsPerMinute: e.RATE_LIMIT_REQUESTS_PER_MINUTE,
      tokensPerMinute: e.RATE_LIMIT_TOKENS_PER_MINUTE,
      concurrentStreams: e.RATE_LIMIT_CONCURRENT_STREAMS,
      failOpen: e.RATE_LIMIT_FAIL_OPEN,
      redisTimeoutMs: e.RATE_LIMIT_REDIS_TIMEOUT_MS,
    },
    budgets: { failOpen: e.BUDGET_FAIL_OPEN },
    llm: {
      modelsFile: e.MODELS_FILE,
      resilience: {
        maxRetries: e.UPSTREAM_MAX_RETRIES,
        retryDeadlineMs: e.UPSTREAM_RETRY_DEADLINE_SECONDS * 1000,
        ttftTimeoutMs: e.UPSTREAM_TTFT_TIMEOUT_SECONDS * 1000,
        idleTimeoutMs: e.UPSTREAM_IDLE_TIMEOUT_SECONDS * 1000,
        wholeTimeoutMs: e.UPSTREAM_WHOLE_ANSWER_TIMEOUT_SECONDS * 1000,
        breakerThreshold: e.BREAKER_FAILURE_THRESHOLD,
        breakerCooldownMs: e.BREAKER_COOLDOWN_SECONDS * 1000,
      },
      simulate: e.SIMULATE || e.SIMULATOR_URL !== undefined,
      simulatorUrl: e.SIMULATOR_URL,
      openai: e.OPENAI_API_KEY
        ? { apiKey: new Secret(e.OPENAI_API_KEY), baseUrl: e.OPENAI_BASE_URL }
        : undefined,
      openaiCompatible: e.OPENAI_COMPATIBLE_BASE_URL
        ? { baseUrl: e.OPENAI_COMPATIBLE_BASE_URL, apiKey: secret(e.OPENAI_COMPATIBLE_API_KEY) }
        : undefined,
      azure: e.AZURE_OPENAI_ENDPOINT
        ? {
            apiKey: secret(e.AZURE_OPENAI_API_KEY),
            endpoint: e.AZURE_OPENAI_ENDPOINT,
            apiVersion: e.AZURE_OPENAI_API_VERSION ?? '2024-10-21',
          }
        : undefined,
      bedrock: bedrockRegion ? { region: bedrockRegion, endpoint: e.BEDROCK_ENDPOINT } : undefined,
      gemini: e.GEMINI_API_KEY
        ? { apiKey: new Secret(e.GEMINI_API_KEY), baseUrl: e.GEMINI_BASE_URL }
        : undefined,
    },
    metrics: { emf: e.EMF_METRICS, emfIntervalMs: e.EMF_INTERVAL_SECONDS * 1000 },
    tracing: { enabled: e.OTEL_TRACES_ENABLED, serviceName: e.OTEL_SERVICE_NAME ?? 'switchboard' },
    web: { dir: e.WEB_DIR, oidc: webOidc(e) },
    assistants: {
      mapModelId: e.ASSISTANT_MAP_MODEL,
      summaryModelId: e.ASSISTANT_SUMMARY_MODEL,
      mapConcurrency: e.ASSISTANT_MAP_CONCURRENCY,
      agentMaxSteps: e.AGENT_MAX_STEPS,
      agentDeadlineMs: e.AGENT_DEADLINE_SECONDS * 1000,
      fetchUrl: e.AGENT_FETCH_URL,
      sandboxMaxFileBytes: e.CODE_SANDBOX_MAX_FILE_BYTES,
    },
    extraction: {
      workers: e.EXTRACTION_WORKERS,
      maxHeapMb: e.EXTRACTION_MAX_HEAP_MB,
      timeoutMs: e.EXTRACTION_TIMEOUT_SECONDS * 1000,
      maxUnzippedBytes: e.EXTRACTION_MAX_UNZIPPED_BYTES,
      maxPdfPages: e.EXTRACTION_MAX_PDF_PAGES,
      maxChars: e.EXTRACTION_MAX_CHARS,
    },
    responses: {
      retentionMs: e.RESPONSES_RETENTION_DAYS * 24 * 60 * 60 * 1000,
      purgeIntervalMs: e.RESPONSES_PURGE_INTERVAL_MINUTES * 60 * 1000,
    },
    rag: {
      uploadMaxBytes: e.UPLOAD_MAX_BYTES,
      embeddingModel:
        e.EMBEDDING_MODEL === undefined
          ? undefined
          : e.EMBEDDING_MODEL.toLowerCase() === 'none'
            ? null
            : e.EMBEDDING_MODEL,
      embeddingDimensions: e.EMBEDDING_DIMENSIONS,
      ingestionWorker: e.INGESTION_WORKER,
      jobIdlePollMaxMs: e.JOB_IDLE_POLL_MAX_SECONDS * 1000,
      jobWake: e.JOB_WAKE ?? 'listen',
      textSearchConfig: e.TEXT_SEARCH_CONFIG ?? 'english',
    },
  };
  return deepFreeze(config);
}
