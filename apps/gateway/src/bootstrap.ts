import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Authenticator, BootstrapAdminKey } from '@switchboard/auth';
import type { AppConfig } from '@switchboard/config';
import {
  LlmService,
  createProviders,
  hasProviderCredentials,
  loadCatalogue,
  warmTokenizer,
} from '@switchboard/llm';
import { MetricsService } from '@switchboard/observability';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import express, { type NextFunction, type Response } from 'express';
import helmet from 'helmet';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from 'nestjs-pino';
import pino from 'pino';
import { AppModule } from './app.module';
import { createInfrastructure } from './infra/infrastructure';
import { AllExceptionsFilter, classify } from './http/all-exceptions.filter';
import { authenticationMiddleware, requestIdMiddleware } from './http/edge.middleware';
import type { GatewayRequest } from './http/request.types';
import { DrainState } from './health/drain-state';
import { startMetricsServer, type MetricsServer } from './health/metrics-server';
import { StreamRegistry } from './streaming/stream-registry.service';
import { AppError } from '@switchboard/common';
import { sendError } from './http/send-error';

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
}

/** Builds and starts the gateway on config.http.port; used by main.ts and by tests. */
export async function createGateway(
  config: AppConfig,
  opts: GatewayOptions = {},
): Promise<Gateway> {
  const logger = opts.logger ?? pino({ level: config.logLevel });

  let adminKey: BootstrapAdminKey;
  if (config.auth.adminApiKey)
    adminKey = BootstrapAdminKey.fromPlaintext(config.auth.adminApiKey.reveal());
  else {
    const loaded = await BootstrapAdminKey.loadOrCreate(config.dataDir);
    adminKey = loaded.key;
    if (loaded.generated) {
      (opts.onAdminKeyGenerated ?? ((k: string) => process.stdout.write(adminKeyBanner(k))))(
        loaded.generated,
      );
    }
  }

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
  const infra = await createInfrastructure(config, logger, llm);
  const authenticator = new Authenticator(adminKey, infra.verifiers);

  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      AppModule.forRoot({ config, logger, llm, infra }),
      // a provider failing at boot (a bad setting) is thrown to the caller, not process.exit
      { bodyParser: false, bufferLogs: true, abortOnError: false },
    );
  } catch (e) {
    await infra.close().catch(() => undefined);
    await simulator?.close().catch(() => undefined);
    throw e;
  }
  app.useLogger(app.get(Logger));
  app.set('x-powered-by', false);
  app.set('trust proxy', true);
  app.use(helmet({ contentSecurityPolicy: false, crossOriginResourcePolicy: false }));
  if (config.http.corsOrigins.length)
    app.enableCors({
      origin: config.http.corsOrigins,
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    });

  const metrics = app.get(MetricsService);
  app.use(requestIdMiddleware);
  app.use(accessLog(logger, metrics));
  app.use(authenticationMiddleware(authenticator));
  app.use(requireJson);
  app.use(express.json({ limit: config.http.bodyLimitBytes, strict: true }));
  // Body-parser errors are answered here: past this point Nest would flatten them to a bare 400.
  app.use((err: unknown, req: GatewayRequest, res: Response, next: NextFunction) => {
    if (!err) return next();
    res.setHeader('Connection', 'close');
    sendError(res, classify(err), req.requestId);
  });
  app.useGlobalFilters(new AllExceptionsFilter());

  await app.listen(config.http.port, config.http.host);
  const server: Server = app.getHttpServer();
  // Streams are long-lived: no request timeout; keep-alive beyond the ALB's idle timeout.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 305_000;
  server.headersTimeout = 310_000;
  let metricsServer: MetricsServer | undefined;
  try {
    if (config.http.metricsPort !== undefined)
      metricsServer = await startMetricsServer(
        metrics.registry,
        config.http.host,
        config.http.metricsPort,
      );
    await infra.startWorker();
  } catch (e) {
    await metricsServer?.close();
    await app.close();
    await infra.close();
    await simulator?.close();
    throw e;
  }
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
  setImmediate(warmTokenizer);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // server.close() waits for every connection; one opened and left idle (or
      // half-closed by an aborted client) must not hold shutdown forever
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      force.unref();
      await app.close();
      clearTimeout(force);
      await metricsServer?.close();
      // after the app: in-flight usage rows reach the ledger before it is flushed
      await infra.close();
      await simulator?.close();
    })());

  const drainAndClose = async () => {
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
  };

  return { app, url, port, metricsUrl, simulator, drainAndClose, close };
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
