import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import {
  createServer as createTcpServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import {
  bedrockDialect,
  bedrockError,
  invokeEmbeddings,
  invokeTexts,
  parseConverse,
} from './bedrock.protocol';
import { serveContainers } from './container.routes';
import { ContainerStore } from './container.store';
import type { ChatDialect, ErrorReply, SimErrorKind } from './dialect';
import type { SimRequest, SimResponse } from './sim-http';
import { parseDirective } from './directive.parser';
import { serveFiles } from './file.routes';
import {
  batchEmbedContents,
  countTokens,
  embedContent,
  geminiDialect,
  offersCodeExecution,
  geminiEmbeddingTexts,
  geminiError,
  parseGenerateContent,
} from './gemini.protocol';
import {
  openAiDialect,
  openAiEmbeddings,
  openAiError,
  openAiModel,
  openAiModels,
  openAiEmbeddingTexts,
  parseOpenAiChat,
} from './openai.protocol';
import { parseResponsesCreate, responsesDialect } from './responses.protocol';
import { NO_PIECES, planReply, type SimChatRequest, type SimReply } from './reply.planner';
import { playReply, sendError, sendJson } from './reply.player';
import { SimRecorder, type RecordedRequest, type SimProtocol, type SimStats } from './sim-stats';
import { UserFileStore } from './user-file.store';
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
  /** Live files uploaded through the Files API, oldest first (as `GET /_sim/files`). */
  files(): SimUploadedFile[];
  /**
   * Zeroes the counters, forgets recorded requests, drops code-interpreter
   * containers and uploaded files.
   */
  reset(): void;
  /** Stops listening and cuts every open connection, hanging ones included. */
  close(): Promise<void>;
}

/** An uploaded file as `GET /_sim/files` lists it. */
export interface SimUploadedFile {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** What the routes share for the simulator's lifetime. */
interface SimState {
  recorder: SimRecorder;
  containers: ContainerStore;
  uploads: UserFileStore;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const state: SimState = {
    recorder: new SimRecorder(),
    containers: new ContainerStore(),
    uploads: new UserFileStore(),
  };
  const { recorder } = state;
  const reset = (): void => {
    recorder.reset();
    state.containers.clear();
    state.uploads.clear();
  };
  const handle = (req: SimRequest, res: SimResponse): void => {
    route(state, reset, req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'simulator failure' } });
      else res.destroy();
    });
  };
  const http1 = createHttp1Server(handle);
  // Streams may legitimately stay open for a long time (ttft, hang); never time them out here.
  http1.requestTimeout = 0;
  http1.keepAliveTimeout = 65_000;
  // The Bedrock SDK speaks HTTP/2; over plain http:// that is h2c with prior knowledge.
  const http2 = createHttp2Server({}, (req, res) => handle(req, res));
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  // One port for both: an HTTP/2 connection opens with the "PRI * HTTP/2.0" preface.
  const sockets = new Set<Socket>();
  const front = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.once('data', (head: Buffer) => {
      socket.pause();
      socket.unshift(head);
      const target = head.subarray(0, 3).toString('latin1') === 'PRI' ? http2 : http1;
      target.emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  front.maxConnections = Infinity;

  const host = opts.host ?? '127.0.0.1';
  await listen(front, opts.port ?? 0, host);
  const port = (front.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    stats: () => recorder.stats(),
    files: () => uploadedFiles(state.uploads),
    reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        front.close((err) => (err ? reject(err) : resolve()));
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }),
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

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function route(
  state: SimState,
  reset: () => void,
  req: SimRequest,
  res: SimResponse,
): Promise<void> {
  const { recorder, containers, uploads } = state;
  const url = new URL(req.url ?? '/', 'http://simulator');
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path.startsWith('/_sim/')) return control(state, reset, method, path, url, res);
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
    if (method === 'POST' && path === '/v1/responses')
      return openAiResponses(state, 'openai', req, res);
    if (path.startsWith('/v1/containers/')) {
      return serveContainers(containers, method, path.slice('/v1'.length), url.searchParams, res);
    }
    if (path === '/v1/files' || path.startsWith('/v1/files/')) {
      const rest = path.slice('/v1'.length);
      return serveFiles(uploads, method, rest, url.searchParams, req, res, MAX_BODY_BYTES);
    }
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
    // AzureOpenAI clients call /openai/responses?api-version=…; OpenAI clients on /openai/v1.
    if (method === 'POST' && (path === '/openai/v1/responses' || path === '/openai/responses'))
      return openAiResponses(state, 'azure', req, res);
    const containerPath = /^\/openai(?:\/v1)?(\/containers\/.*)$/.exec(path);
    if (containerPath !== null) {
      return serveContainers(containers, method, containerPath[1], url.searchParams, res);
    }
    // AzureOpenAI clients call /openai/files?api-version=…; OpenAI clients on /openai/v1.
    const filePath = /^\/openai(?:\/v1)?(\/files(?:\/.*)?)$/.exec(path);
    if (filePath !== null) {
      return serveFiles(uploads, method, filePath[1], url.searchParams, req, res, MAX_BODY_BYTES);
    }
    if (method === 'GET' && (path === '/openai/models' || path === '/openai/v1/models')) {
      return sendJson(res, 200, openAiModels());
    }
    return sendError(res, openAiError('not_found', `Unknown request URL: ${method} ${path}.`));
  }

  // Bedrock Runtime: the model id is one URL-encoded segment (ARNs carry ':' and '/').
  const bedrock = /^\/model\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (bedrock !== null && method === 'POST') {
    return bedrockCall(recorder, req, res, decodeURIComponent(bedrock[1]), bedrock[2]);
  }

  // Gemini API: /v1beta/models/{model}:{method}
  const gemini = /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
  if (gemini !== null && method === 'POST') {
    if (!req.headers['x-goog-api-key'] && !url.searchParams.get('key') && !hasBearer(req)) {
      return sendError(res, geminiError('unauthorized'));
    }
    return geminiCall(recorder, req, res, decodeURIComponent(gemini[2]), gemini[3]);
  }

  sendJson(res, 404, { error: { code: 404, message: `No simulator route for ${method} ${path}` } });
}

function control(
  state: SimState,
  reset: () => void,
  method: string,
  path: string,
  url: URL,
  res: SimResponse,
): void {
  const { recorder } = state;
  if (method === 'GET' && path === '/_sim/stats') return sendJson(res, 200, recorder.stats());
  if (method === 'GET' && path === '/_sim/files') {
    return sendJson(res, 200, uploadedFiles(state.uploads));
  }
  if (method === 'POST' && path === '/_sim/reset') {
    reset();
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
  req: SimRequest,
  res: SimResponse,
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

function readBody(req: SimRequest): Promise<string> {
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
  res: SimResponse,
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

/**
 * A JSON answer (embeddings) that still honours `ttft` and `fail` from a `#sim`
 * line in the input texts, so retries around embedding calls can be tested too.
 */
function serveJson(
  recorder: SimRecorder,
  res: SimResponse,
  texts: readonly string[],
  error: (kind: SimErrorKind, message?: string) => ErrorReply,
  body: () => unknown,
): void {
  const directive = parseDirective(texts.join('\n'));
  const reply: SimReply = {
    directive: { ...directive, tps: 0 },
    pieces: NO_PIECES,
    finish: 'stop',
    usage: { inputTokens: 0, cachedTokens: 0, outputTokens: 0, reasoningTokens: 0 },
  };
  const dialect: ChatDialect = {
    streamHeaders: {},
    encoder: () => {
      throw new Error('JSON answers are never streamed');
    },
    body,
    error,
  };
  playReply({ res, dialect, reply, stream: false, onDrop: () => recorder.markDropped(res) });
}

/** Runs `handler`, answering a BadRequest with the protocol's 400 body. */
function guarded(
  res: SimResponse,
  error: (kind: SimErrorKind, message?: string, param?: string) => ErrorReply,
  handler: () => void,
): void {
  try {
    handler();
  } catch (e) {
    if (!(e instanceof BadRequest)) throw e;
    sendError(res, error('bad_request', e.message, e.param));
  }
}

function uploadedFiles(uploads: UserFileStore): SimUploadedFile[] {
  return uploads.list().map((f) => ({
    id: f.id,
    filename: f.filename,
    bytes: f.content.length,
    purpose: f.purpose,
  }));
}

async function bedrockCall(
  recorder: SimRecorder,
  req: SimRequest,
  res: SimResponse,
  modelId: string,
  operation: string,
): Promise<void> {
  const input = await intake(recorder, 'bedrock', req, res, bedrockError);
  if (input === undefined) return;
  guarded(res, bedrockError, () => {
    if (operation !== 'invoke' && operation !== 'converse' && operation !== 'converse-stream') {
      sendError(res, bedrockError('not_found', `The simulator does not implement ${operation}.`));
      return;
    }
    if (operation === 'invoke') {
      const body = invokeEmbeddings(input.body, modelId);
      serveJson(recorder, res, invokeTexts(input.body), bedrockError, () => body);
      return;
    }
    const request = parseConverse(input.body, modelId);
    serveChat(recorder, res, bedrockDialect(), request, operation === 'converse-stream');
  });
}

async function geminiCall(
  recorder: SimRecorder,
  req: SimRequest,
  res: SimResponse,
  model: string,
  operation: string,
): Promise<void> {
  const input = await intake(recorder, 'gemini', req, res, geminiError);
  if (input === undefined) return;
  guarded(res, geminiError, () => {
    switch (operation) {
      case 'generateContent':
      case 'streamGenerateContent': {
        const request = parseGenerateContent(input.body, model);
        serveChat(
          recorder,
          res,
          geminiDialect(model, offersCodeExecution(input.body)),
          request,
          operation === 'streamGenerateContent',
        );
        return;
      }
      case 'countTokens':
        sendJson(res, 200, countTokens(input.body, model));
        return;
      case 'embedContent':
      case 'batchEmbedContents': {
        const body =
          operation === 'embedContent'
            ? embedContent(input.body, model)
            : batchEmbedContents(input.body, model);
        serveJson(recorder, res, geminiEmbeddingTexts(input.body), geminiError, () => body);
        return;
      }
      default:
        sendError(
          res,
          geminiError('not_found', `Method ${operation} is not supported by the simulator.`),
        );
    }
  });
}

async function openAiChat(
  recorder: SimRecorder,
  protocol: SimProtocol,
  req: SimRequest,
  res: SimResponse,
  model?: string,
): Promise<void> {
  const input = await intake(recorder, protocol, req, res, openAiError);
  if (input === undefined) return;
  guarded(res, openAiError, () => {
    const call = parseOpenAiChat(input.body, model);
    const dialect = openAiDialect(call.includeUsage, call.request.model, protocol === 'azure');
    serveChat(recorder, res, dialect, call.request, call.stream);
  });
}

async function openAiResponses(
  state: SimState,
  protocol: SimProtocol,
  req: SimRequest,
  res: SimResponse,
): Promise<void> {
  const input = await intake(state.recorder, protocol, req, res, openAiError);
  if (input === undefined) return;
  guarded(res, openAiError, () => {
    const call = parseResponsesCreate(input.body);
    const dialect = responsesDialect(call, state.containers, state.uploads);
    serveChat(state.recorder, res, dialect, call.request, call.stream);
  });
}

async function openAiEmbed(
  recorder: SimRecorder,
  protocol: SimProtocol,
  req: SimRequest,
  res: SimResponse,
  model?: string,
): Promise<void> {
  const input = await intake(recorder, protocol, req, res, openAiError);
  if (input === undefined) return;
  guarded(res, openAiError, () => {
    const body = openAiEmbeddings(input.body, model);
    serveJson(recorder, res, openAiEmbeddingTexts(input.body), openAiError, () => body);
  });
}

function hasBearer(req: SimRequest): boolean {
  const auth = req.headers.authorization;
  return typeof auth === 'string' && /^bearer\s+\S/i.test(auth);
}
