import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Authenticator, BootstrapAdminKey } from '@switchboard/auth';
import { ConfigError, type AppConfig } from '@switchboard/config';
import type { SsrfGuardOptions } from '@switchboard/datasources';
import { LlmEmbedder, type Embedder } from '@switchboard/rag';
import {
  LlmService,
  createProviders,
  hasProviderCredentials,
  loadCatalogue,
  warmTokenizer,
} from '@switchboard/llm';
import { MetricsService, TRACE_EXPORTER } from '@switchboard/observability';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import express, { type NextFunction, type RequestHandler, type Response } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from 'nestjs-pino';
import pino from 'pino';
import { AppModule, ROUTED_CONTROLLERS, type GatewayModuleOptions } from './app.module';
import { methodNotAllowedMiddleware } from './http/method-not-allowed.middleware';
import { routesOf } from './openapi/openapi.document';
import { AllExceptionsFilter, classify } from './http/all-exceptions.filter';
import { authenticationMiddleware, requestIdMiddleware } from './http/edge.middleware';
import { isPlainJson, jsonBody } from './http/json-body';
import { hotRoutesMiddleware } from './http/hot-routes';
import { composeMiddleware } from './http/compose-middleware';
import { GatewayExpressAdapter } from './http/gateway-express-adapter';
import { securityHeaders } from './http/security-headers';
import type { GatewayRequest } from './http/request.types';
import { DrainState } from './health/drain-state';
import { startMetricsServer, type MetricsServer } from './health/metrics-server';
import { StreamRegistry } from './streaming/stream-registry.service';
import { AppError } from '@switchboard/common';
import { sendError } from './http/send-error';
import { FrameworkChatterAtDebug, nestLoggerOver } from './logging/gateway-logger';
import { webAppMiddleware } from './web/web-app';

export interface Gateway {
  app: NestExpressApplication;
  url: string;
  port: number;
  /** where Prometheus /metrics is served: `${url}/metrics`, or its own port (METRICS_PORT) */
  metricsUrl: string;
  simulator?: RunningSimulator;
  /** SIGTERM semantics: stop admitting, let streams finish (bounded), then close. */
  drainAndClose(): Promise<void>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** called with the generated bootstrap admin key on first boot */
  onAdminKeyGenerated?: (key: string) => void;
  logger?: pino.Logger;
  /** settings that are not environment variables (tests: the SSRF guard's resolver) */
  infrastructure?: { ssrf?: SsrfGuardOptions };
  /** receives the spans when OTEL_TRACES_ENABLED is set, instead of OTLP (tests) */
  traceExporter?: SpanExporter;
}

/** Builds and starts the gateway on config.http.port; used by main.ts and by tests. */
export async function createGateway(
  config: AppConfig,
  opts: GatewayOptions = {},
): Promise<Gateway> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  // before any I/O: a WEB_DIR without a built app stops the boot with its name
  const webApp = webAppMiddleware(config, logger);
  const adminKey = await loadAdminKey(config, opts.onAdminKeyGenerated);
  const { llm, simulator, simulatorUrl } = await startModels(config);
  // before any I/O: a bad EMBEDDING_MODEL stops the boot with its name
  let embedder: Embedder | null;
  try {
    embedder = resolveEmbedder(config, llm);
  } catch (e) {
    await simulator?.close().catch(() => undefined);
    throw e;
  }
  // The tokenizer's tables take about half a second to build, on this thread. Built
  // after the boot, they kept the first requests (and /ready) waiting; built now, they
  // overlap the embedded database opening in its own process.
  warmTokenizer();
  const app = await createApp(
    { config, logger, llm, embedder, adminKey, ssrf: opts.infrastructure?.ssrf },
    simulator,
    opts.traceExporter,
    (built) => installEdge(built, config, logger, built.get(Authenticator), webApp),
  );
  const { server, metricsServer } = await listen(app, config, simulator);

  const port = (server.address() as AddressInfo).port;
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  const url = `http://${host}:${port}`;
  const metricsUrl = metricsServer
    ? `http://${host}:${metricsServer.port}/metrics`
    : `${url}/metrics`;
  logger.info(
    {
      url,
      metricsUrl,
      simulated: llm.simulated,
      simulatorUrl,
      models: llm.models().map((m) => m.id),
    },
    llm.simulated
      ? 'switchboard ready (SIMULATED models: no provider credentials set)'
      : 'switchboard ready',
  );

  const close = closeOnce(app, server, simulator, metricsServer);
  const drainAndClose = () => drainThenClose(app, config, logger, server, close);
  return { app, url, port, metricsUrl, simulator, drainAndClose, close };
}

/** ADMIN_API_KEY, or the key generated on first boot (shown once) and its stored hash */
async function loadAdminKey(
  config: AppConfig,
  onGenerated: GatewayOptions['onAdminKeyGenerated'],
): Promise<BootstrapAdminKey> {
  if (config.auth.adminApiKey)
    return BootstrapAdminKey.fromPlaintext(config.auth.adminApiKey.reveal());
  const loaded = await BootstrapAdminKey.loadOrCreate(config.dataDir);
  if (loaded.generated) {
    (onGenerated ?? ((k: string) => process.stdout.write(adminKeyBanner(k))))(loaded.generated);
  }
  return loaded.key;
}

/** the catalogue and its providers; the in-process simulator when no provider is configured */
async function startModels(
  config: AppConfig,
): Promise<{ llm: LlmService; simulator?: RunningSimulator; simulatorUrl?: string }> {
  let simulator: RunningSimulator | undefined;
  let simulatorUrl: string | undefined;
  if (config.llm.simulate || !hasProviderCredentials(config)) {
    simulatorUrl = config.llm.simulatorUrl;
    if (!simulatorUrl) {
      simulator = await startSimulator({ port: 0, host: '127.0.0.1' });
      simulatorUrl = simulator.url;
    }
  }
  const llm = new LlmService(
    loadCatalogue(config.llm.modelsFile),
    createProviders(config, { simulatorUrl }),
  );
  return { llm, simulator, simulatorUrl };
}

/**
 * Builds the app from its modules, installs the HTTP edge, then runs every
 * module's init hooks (storage has connected and migrated while the providers
 * were built). A provider failing while the app is built gets no shutdown hook,
 * so the connections opened by then are closed here; a failing init hook closes
 * the app.
 */
async function createApp(
  module: Omit<GatewayModuleOptions, 'track' | 'providers'>,
  simulator: RunningSimulator | undefined,
  traceExporter: SpanExporter | undefined,
  /** middleware and filters: Express runs them in order, so they go in before the routes */
  installEdge: (app: NestExpressApplication) => void,
): Promise<NestExpressApplication> {
  const providers = traceExporter ? [{ provide: TRACE_EXPORTER, useValue: traceExporter }] : [];
  const opened: Array<{ close(): Promise<void> }> = [];
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      AppModule.forRoot({ ...module, providers, track: (c) => opened.push(c) }),
      new GatewayExpressAdapter(),
      {
        bodyParser: false,
        // a provider failing at boot (a bad setting) is thrown to the caller, not process.exit
        abortOnError: false,
        // held until the app's logger is installed; flushed here if the build fails
        bufferLogs: true,
        logger: new FrameworkChatterAtDebug(nestLoggerOver(module.logger)),
      },
    );
  } catch (e) {
    // Nest runs no shutdown hook when a provider fails while the app is built
    for (const c of opened.reverse()) await c.close().catch(() => undefined);
    await simulator?.close().catch(() => undefined);
    throw e;
  }
  try {
    installEdge(app);
    // every module's init hooks (budgets re-seed...), the routes, then the ingestion worker
    await app.init();
    return app;
  } catch (e) {
    await app.close().catch(() => undefined);
    await simulator?.close().catch(() => undefined);
    throw e;
  }
}

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

/** logger, security headers, CORS, request id, access log, authentication, JSON bodies */
function installEdge(
  app: NestExpressApplication,
  config: AppConfig,
  logger: pino.Logger,
  authenticator: Authenticator,
  webApp: RequestHandler,
): void {
  app.useLogger(new FrameworkChatterAtDebug(app.get(Logger)));
  app.set('x-powered-by', false);
  app.set('trust proxy', true);
  app.use(securityHeaders({ contentSecurityPolicy: false, crossOriginResourcePolicy: false }));
  if (config.http.corsOrigins.length)
    app.enableCors({
      origin: config.http.corsOrigins,
      exposedHeaders: [
        'x-request-id',
        'retry-after',
        'x-switchboard-model',
        'x-switchboard-attempt',
        'ratelimit',
        'ratelimit-policy',
      ],
      maxAge: 600,
    });

  const metrics = app.get(MetricsService);
  // one layer for the router, run in this order (see composeMiddleware)
  app.use(
    composeMiddleware([
      requestIdMiddleware,
      accessLog(logger, metrics),
      webApp,
      authenticationMiddleware(authenticator),
      methodNotAllowedMiddleware(routesOf(ROUTED_CONTROLLERS)),
      requireJson,
      // plain UTF-8 JSON (every chat request) in one pass; express.json takes the rest
      jsonBody(config.http.bodyLimitBytes),
      express.json({ limit: config.http.bodyLimitBytes, strict: true }),
      // Body-parser errors are answered here: past this point Nest would flatten them to a bare 400.
      (err: unknown, req: GatewayRequest, res: Response, next: NextFunction) => {
        if (!err) return next();
        res.setHeader('Connection', 'close');
        sendError(res, classify(err), req.requestId);
      },
      hotRoutesMiddleware(app),
    ]),
  );
  app.useGlobalFilters(new AllExceptionsFilter());
}

/** listens (and serves Prometheus on its own port when asked); a failure closes everything */
async function listen(
  app: NestExpressApplication,
  config: AppConfig,
  simulator: RunningSimulator | undefined,
): Promise<{ server: Server; metricsServer?: MetricsServer }> {
  let metricsServer: MetricsServer | undefined;
  try {
    await app.listen(config.http.port, config.http.host);
    // Prometheus on its own port (METRICS_PORT), which no load balancer reaches
    if (config.http.metricsPort !== undefined)
      metricsServer = await startMetricsServer(
        app.get(MetricsService).registry,
        config.http.host,
        config.http.metricsPort,
      );
  } catch (e) {
    await metricsServer?.close();
    await app.close();
    await simulator?.close();
    throw e;
  }
  const server: Server = app.getHttpServer();
  // Streams are long-lived: no request timeout; keep-alive beyond the ALB's idle timeout.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 305_000;
  server.headersTimeout = 310_000;
  return { server, metricsServer };
}

/**
 * Closes the app (its modules' shutdown hooks flush the ledger and close the
 * connections), then the simulator; later calls share the first.
 */
function closeOnce(
  app: NestExpressApplication,
  server: Server,
  simulator: RunningSimulator | undefined,
  metricsServer: MetricsServer | undefined,
): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= (async () => {
      // server.close() waits for every connection; one opened and left idle (or
      // half-closed by an aborted client) must not hold shutdown forever
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      force.unref();
      await app.close();
      clearTimeout(force);
      await metricsServer?.close();
      await simulator?.close();
    })());
}

/** SIGTERM semantics: stop admitting, let streams finish (bounded), then close */
async function drainThenClose(
  app: NestExpressApplication,
  config: AppConfig,
  logger: pino.Logger,
  server: Server,
  close: () => Promise<void>,
): Promise<void> {
  const drain = app.get(DrainState);
  const registry = app.get(StreamRegistry);
  drain.begin();
  logger.info(
    { openStreams: registry.size, drainSeconds: config.shutdown.drainSeconds },
    'draining',
  );
  const empty = await registry.waitForEmpty(config.shutdown.drainSeconds * 1000);
  if (!empty) {
    logger.warn({ openStreams: registry.size }, 'drain deadline reached; ending open streams');
    registry.stopAll('draining');
    await registry.waitForEmpty(5000);
  }
  server.closeIdleConnections();
  await close();
}

function adminKeyBanner(key: string): string {
  return [
    '',
    '================================================================',
    ' Bootstrap admin API key (shown once; only its hash is stored):',
    `   ${key}`,
    ' Use it as: Authorization: Bearer <key>',
    '================================================================',
    '',
  ].join('\n');
}

/**
 * POST bodies must be JSON; anything else is 415 rather than a confusing 400.
 * The one exception is an upload to POST /files, which the files controller
 * streams from its multipart body.
 */
function requireJson(req: GatewayRequest, res: Response, next: NextFunction): void {
  // every chat request: plain JSON needs neither type-is nor the upload check
  const type = req.headers['content-type'];
  if (type !== undefined && isPlainJson(type)) return next();
  const hasBody =
    req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const upload =
    req.method === 'POST' &&
    /^\/files\/?$/.test(req.path) &&
    Boolean(req.is('multipart/form-data'));
  if ((hasBody || chunked) && !upload && !req.is('application/json')) {
    res.setHeader('Connection', 'close');
    sendError(
      res,
      new AppError('unsupported_media_type', 'Send the body as application/json.'),
      req.requestId,
    );
    return;
  }
  next();
}

function accessLog(logger: pino.Logger, metrics: MetricsService) {
  return (req: GatewayRequest, res: Response, next: NextFunction): void => {
    res.on('finish', () => done(true));
    res.on('close', () => done(false));
    let logged = false;
    function done(finished: boolean) {
      if (logged) return;
      logged = true;
      const route =
        (req.route as { path?: string } | undefined)?.path ??
        (res.statusCode === 404 ? 'unmatched' : req.path);
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      logger.info(
        {
          requestId: req.requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          finished,
          durationMs: Math.round(performance.now() - req.receivedAt),
          userId: req.principal?.userId,
        },
        'request',
      );
    }
    next();
  };
}
