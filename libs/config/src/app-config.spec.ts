import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('boots with an empty environment on the embedded defaults', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.dataDir).toBe('./data');
    expect(c.storage.databaseUrl).toBeUndefined();
    expect(c.storage.blobStore).toEqual({ kind: 'fs' });
    expect(c.shutdown.drainSeconds).toBe(100);
    expect(c.chat.heartbeatMs).toBe(15000);
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        REDIS_URL: 'ftp://x',
        DATABASE_URL: 'nope',
        BLOB_STORE: 'gs://b',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    for (const name of ['PORT', 'REDIS_URL', 'DATABASE_URL', 'BLOB_STORE'])
      expect(msg).toContain(name);
  });

  it('serves metrics on PORT unless METRICS_PORT is set, and never on the same port', () => {
    const local = loadConfig({});
    expect(local.http.metricsPort).toBeUndefined();
    expect(local.storage.databasePoolIdleMs).toBe(30_000);
    expect(local.rag.jobIdlePollMaxMs).toBe(30_000);
    expect(local.rag.jobWake).toBe('listen');
    const aws = loadConfig({
      PORT: '8080',
      METRICS_PORT: '9464',
      DATABASE_POOL_IDLE_SECONDS: '20',
      JOB_IDLE_POLL_MAX_SECONDS: '3600',
      JOB_WAKE: 'poll',
    });
    expect(aws.http.metricsPort).toBe(9464);
    expect(aws.storage.databasePoolIdleMs).toBe(20_000);
    expect(aws.rag.jobIdlePollMaxMs).toBe(3_600_000);
    expect(aws.rag.jobWake).toBe('poll');
    expect(() => loadConfig({ JOB_WAKE: 'sometimes' })).toThrow(/JOB_WAKE/);
    expect(loadConfig({ METRICS_PORT: '0' }).http.metricsPort).toBe(0);
    expect(() => loadConfig({ PORT: '8080', METRICS_PORT: '8080' })).toThrow(
      /METRICS_PORT: must differ from PORT/,
    );
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ DATABASE_POOL_IDLE_SECONDS: '0' })).toThrow(
      /DATABASE_POOL_IDLE_SECONDS/,
    );
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ OPENAI_API_KEY: '', PORT: '' }).llm.openai).toBeUndefined();
  });

  it('never reveals secrets when serialised', () => {
    const c = loadConfig({ OPENAI_API_KEY: 'sk-very-secret-value', ADMIN_API_KEY: 'x'.repeat(20) });
    const text = JSON.stringify(c) + String(c.llm.openai?.apiKey);
    expect(text).not.toContain('sk-very-secret-value');
    expect(c.llm.openai?.apiKey.reveal()).toBe('sk-very-secret-value');
  });

  it('requires the issuer when an audience is given', () => {
    expect(() => loadConfig({ OIDC_AUDIENCE: 'api' })).toThrow(/OIDC_ISSUER/);
  });

  it('parses an S3 blob store', () => {
    expect(loadConfig({ BLOB_STORE: 's3://my-bucket/uploads/x' }).storage.blobStore).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'uploads/x',
    });
  });

  it('defaults the extraction limits and validates them by name', () => {
    expect(loadConfig({}).extraction).toEqual({
      workers: 1,
      maxHeapMb: 512,
      timeoutMs: 120_000,
      maxUnzippedBytes: 128 * 1024 * 1024,
      maxPdfPages: 5000,
      maxChars: 20_000_000,
    });
    expect(
      loadConfig({ EXTRACTION_WORKERS: '3', EXTRACTION_TIMEOUT_SECONDS: '5' }).extraction,
    ).toMatchObject({ workers: 3, timeoutMs: 5000 });
    let err: unknown;
    try {
      loadConfig({
        EXTRACTION_WORKERS: '0',
        EXTRACTION_MAX_HEAP_MB: '8',
        EXTRACTION_MAX_UNZIPPED_BYTES: 'lots',
      });
    } catch (e) {
      err = e;
    }
    const msg = String((err as Error).message);
    for (const name of [
      'EXTRACTION_WORKERS',
      'EXTRACTION_MAX_HEAP_MB',
      'EXTRACTION_MAX_UNZIPPED_BYTES',
    ])
      expect(msg).toContain(name);
  });

  it('defaults the RAG settings and validates them by name', () => {
    const c = loadConfig({});
    expect(c.rag).toEqual({
      uploadMaxBytes: 25 * 1024 * 1024,
      embeddingModel: undefined,
      embeddingDimensions: 1536,
      ingestionWorker: true,
      jobIdlePollMaxMs: 30_000,
      jobWake: 'listen',
      textSearchConfig: 'english',
    });
    expect(loadConfig({ EMBEDDING_MODEL: 'none' }).rag.embeddingModel).toBeNull();
    expect(loadConfig({ EMBEDDING_MODEL: 'sim-embed' }).rag.embeddingModel).toBe('sim-embed');
    expect(loadConfig({ INGESTION_WORKER: 'false' }).rag.ingestionWorker).toBe(false);
    let err: unknown;
    try {
      loadConfig({
        UPLOAD_MAX_BYTES: '-1',
        EMBEDDING_DIMENSIONS: '4096',
        INGESTION_WORKER: 'maybe',
        TEXT_SEARCH_CONFIG: 'english; drop table',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    for (const name of [
      'UPLOAD_MAX_BYTES',
      'EMBEDDING_DIMENSIONS',
      'INGESTION_WORKER',
      'TEXT_SEARCH_CONFIG',
    ])
      expect(msg).toContain(name);
  });

  it('offers the web app an OIDC sign-in only with an issuer and a public client id', () => {
    expect(loadConfig({}).web).toEqual({ dir: undefined, oidc: undefined });
    // an API audience alone is not a browser client
    expect(
      loadConfig({ OIDC_ISSUER: 'https://id.example.com', OIDC_AUDIENCE: 'api' }).web.oidc,
    ).toBeUndefined();
    expect(
      loadConfig({
        OIDC_ISSUER: 'https://id.example.com',
        OIDC_AUDIENCE: 'api',
        WEB_OIDC_CLIENT_ID: 'spa',
        WEB_DIR: '/srv/web',
      }).web,
    ).toEqual({
      dir: '/srv/web',
      oidc: { issuer: 'https://id.example.com', clientId: 'spa', scopes: 'openid profile email' },
    });
    // Cognito: the user pool's issuer and its app client
    expect(
      loadConfig({ COGNITO_USER_POOL_ID: 'eu-west-1_AbC123', COGNITO_CLIENT_ID: 'app1' }).web.oidc,
    ).toEqual({
      issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123',
      clientId: 'app1',
      scopes: 'openid profile email',
    });
  });
});
