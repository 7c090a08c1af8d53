import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatDialect, ErrorReply, SimErrorKind } from './dialect';
import {
  openAiDialect,
  openAiEmbeddings,
  openAiError,
  openAiModel,
  openAiModels,
  parseOpenAiChat,
} from './openai.protocol';
import { planReply, type SimChatRequest } from './reply.planner';
import { playReply, sendError, sendJson } from './reply.player';
import { SimRecorder, type RecordedRequest, type SimProtocol, type SimStats } from './sim-stats';
import { BadRequest } from './wire.util';

export interface SimulatorOptions {
  /** 0 = ephemeral. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface RunningSimulator {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8090 */
  url: string;
  port: number;
  stats(): SimStats;
  /** Zeroes the counters and forgets recorded requests. */
  reset(): void;
  /** Stops listening and cuts every open connection, hanging ones included. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const recorder = new SimRecorder();
  const server = createServer((req, res) => {
    route(recorder, req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'simulator failure' } });
      else res.destroy();
    });
  });
  // Streams may legitimately stay open for a long time (ttft, hang); never time them out here.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65_000;

  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    stats: () => recorder.stats(),
    reset: () => recorder.reset(),
    close: () => closeServer(server),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function route(
  recorder: SimRecorder,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path.startsWith('/_sim/')) return control(recorder, method, path, url, res);
  if (method === 'GET' && (path === '/health' || path === '/'))
    return sendJson(res, 200, { status: 'ok' });

  // OpenAI
  if (path.startsWith('/v1/') && !path.includes(':')) {
    if (!hasBearer(req)) return sendError(res, openAiError('unauthorized'));
    if (method === 'GET' && path === '/v1/models') return sendJson(res, 200, openAiModels());
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      return sendJson(res, 200, openAiModel(decodeURIComponent(path.slice('/v1/models/'.length))));
    }
    if (method === 'POST' && path === '/v1/chat/completions')
      return openAiChat(recorder, 'openai', req, res);
    if (method === 'POST' && path === '/v1/embeddings')
      return openAiEmbed(recorder, 'openai', req, res);
    return sendError(res, openAiError('not_found', `Unknown request URL: ${method} ${path}.`));
  }

  // Azure OpenAI: deployment-scoped paths and the newer /openai/v1 paths.
  if (path.startsWith('/openai/')) {
    if (!hasBearer(req) && typeof req.headers['api-key'] !== 'string') {
      return sendError(
        res,
        openAiError('unauthorized', 'Access denied due to missing subscription key.'),
      );
    }
    const deployment = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(
      path,
    );
    if (method === 'POST' && deployment !== null) {
      const model = decodeURIComponent(deployment[1]);
      return deployment[2] === 'embeddings'
        ? openAiEmbed(recorder, 'azure', req, res, model)
        : openAiChat(recorder, 'azure', req, res, model);
    }
    if (method === 'POST' && path === '/openai/v1/chat/completions')
      return openAiChat(recorder, 'azure', req, res);
    if (method === 'POST' && path === '/openai/v1/embeddings')
      return openAiEmbed(recorder, 'azure', req, res);
    if (method === 'GET' && (path === '/openai/models' || path === '/openai/v1/models')) {
      return sendJson(res, 200, openAiModels());
    }
    return sendError(res, openAiError('not_found', `Unknown request URL: ${method} ${path}.`));
  }

  sendJson(res, 404, { error: { code: 404, message: `No simulator route for ${method} ${path}` } });
}

function control(
  recorder: SimRecorder,
  method: string,
  path: string,
  url: URL,
  res: ServerResponse,
): void {
  if (method === 'GET' && path === '/_sim/stats') return sendJson(res, 200, recorder.stats());
  if (method === 'POST' && path === '/_sim/reset') {
    recorder.reset();
    return sendJson(res, 200, recorder.stats());
  }
  if (method === 'GET' && path === '/_sim/requests') {
    const limit = Number(url.searchParams.get('limit') ?? '100');
    return sendJson(res, 200, {
      requests: recorder.recent(Number.isFinite(limit) ? Math.floor(limit) : 100),
    });
  }
  sendJson(res, 404, { error: { message: `No simulator route for ${method} ${path}` } });
}

/**
 * Tracks, reads and records one model call. Resolves to the parsed body, or to
 * undefined when an error response has already been sent.
 */
async function intake(
  recorder: SimRecorder,
  protocol: SimProtocol,
  req: IncomingMessage,
  res: ServerResponse,
  error: (kind: SimErrorKind, message?: string) => ErrorReply,
): Promise<{ body: unknown } | undefined> {
  recorder.track(res);
  let text: string;
  try {
    text = await readBody(req);
  } catch (e) {
    if (e instanceof BadRequest)
      sendError(res, { ...error('bad_request', e.message), status: 413 });
    else res.destroy();
    return undefined;
  }
  let body: unknown = text;
  let valid = true;
  try {
    body = JSON.parse(text);
  } catch {
    valid = false;
  }
  const entry: RecordedRequest = {
    protocol,
    method: req.method ?? 'POST',
    path: req.url ?? '',
    body,
    at: Date.now(),
  };
  recorder.record(entry);
  if (!valid) {
    sendError(res, error('bad_request', 'We could not parse the JSON body of your request.'));
    return undefined;
  }
  return { body };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BadRequest(`Request body exceeds ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function serveChat(
  recorder: SimRecorder,
  res: ServerResponse,
  dialect: ChatDialect,
  request: SimChatRequest,
  stream: boolean,
): void {
  playReply({
    res,
    dialect,
    reply: planReply(request),
    stream,
    onDrop: () => recorder.markDropped(res),
  });
}

async function openAiChat(
  recorder: SimRecorder,
  protocol: SimProtocol,
  req: IncomingMessage,
  res: ServerResponse,
  model?: string,
): Promise<void> {
  const input = await intake(recorder, protocol, req, res, openAiError);
  if (input === undefined) return;
  try {
    const call = parseOpenAiChat(input.body, model);
    serveChat(
      recorder,
      res,
      openAiDialect(call.includeUsage, call.request.model),
      call.request,
      call.stream,
    );
  } catch (e) {
    if (!(e instanceof BadRequest)) throw e;
    sendError(res, openAiError('bad_request', e.message));
  }
}

async function openAiEmbed(
  recorder: SimRecorder,
  protocol: SimProtocol,
  req: IncomingMessage,
  res: ServerResponse,
  model?: string,
): Promise<void> {
  const input = await intake(recorder, protocol, req, res, openAiError);
  if (input === undefined) return;
  try {
    sendJson(res, 200, openAiEmbeddings(input.body, model));
  } catch (e) {
    if (!(e instanceof BadRequest)) throw e;
    sendError(res, openAiError('bad_request', e.message));
  }
}

function hasBearer(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  return typeof auth === 'string' && /^bearer\s+\S/i.test(auth);
}
