import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { finished, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Pool, type Dispatcher } from 'undici';

/**
 * Chat Completions over undici: one keep-alive `Pool` per upstream origin and
 * the response body read as a Node stream through an SSE parser. The openai
 * SDK's fetch + web-stream reader costs a large share of the gateway's CPU per
 * token; this path sends the same bytes (URL and headers come from the SDK
 * client, see `OpenAiChatProvider`) and reads them with far less machinery.
 */

/** Where one upstream model's chat requests go, with the headers the SDK would send. */
export interface ChatCompletionsEndpoint {
  url: URL;
  headers: Record<string, string>;
}

/** A non-2xx answer or an error event inside the stream. */
export class ChatCompletionsError extends Error {
  constructor(
    message: string,
    /** HTTP status; undefined for an error event inside a 200 stream */
    readonly status: number | undefined,
    /** the upstream's error code (e.g. `context_length_exceeded`) */
    readonly code: string | undefined,
    readonly retryAfter: string | undefined,
  ) {
    super(message);
    this.name = 'ChatCompletionsError';
  }
}

export interface ChatCompletionsTransportOptions {
  /** ms to wait for response headers, and at most between two body chunks */
  timeoutMs: number;
  /** sockets per origin; unlimited by default (one per concurrent stream) */
  connections?: number;
}

/** Bytes of an error body kept for the message; the rest is drained, not buffered. */
const MAX_ERROR_BODY = 64 * 1024;
/** An SSE event larger than this is a broken or hostile upstream. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

export class ChatCompletionsTransport {
  readonly #pools = new Map<string, Pool>();
  readonly #opts: ChatCompletionsTransportOptions;

  constructor(opts: ChatCompletionsTransportOptions) {
    this.#opts = opts;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.#opts.connections ?? null,
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        // idle sockets stay open for the next request (the upstream's keep-alive hint caps it)
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * Sends one request and resolves with the response once a 2xx status and its
   * headers arrived. A non-2xx answer rejects with a `ChatCompletionsError`
   * carrying the upstream's message, code and Retry-After.
   */
  async send(
    endpoint: ChatCompletionsEndpoint,
    body: string,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const { url, headers } = endpoint;
    const res = await this.#pool(url.origin).request({
      method: 'POST',
      path: url.pathname + url.search,
      headers,
      body,
      signal,
    });
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await errorFromResponse(res);
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}

async function errorFromResponse(res: Dispatcher.ResponseData): Promise<ChatCompletionsError> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (size < MAX_ERROR_BODY) chunks.push(chunk);
      size += chunk.length;
    }
  } catch {
    // a body cut short still leaves the status to classify by
  }
  const text = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8');
  const retryAfter = res.headers['retry-after'];
  const { message, code } = describeError(parseJson(text), text);
  return new ChatCompletionsError(
    `${res.statusCode} ${message}`,
    res.statusCode,
    code,
    Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
  );
}

function ignore(): void {}

/**
 * Stops reading `body` for good: no more 'data' to `onData`, no end watch, and the
 * socket released. undici's body reports its own destruction as an error, which
 * nobody waits for any more.
 */
function abandon(body: Readable, onData: (chunk: Buffer) => void, stopWatching: () => void): void {
  body.off('data', onData);
  stopWatching();
  body.on('error', ignore);
  body.destroy();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `{error:{message,code}}` (OpenAI, Azure), `{message,code}` or plain text. */
function describeError(payload: unknown, fallback: string): { message: string; code?: string } {
  const rec = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  const outer = rec(payload);
  const inner = rec(outer?.error) ?? outer;
  const message =
    typeof inner?.message === 'string'
      ? inner.message
      : typeof outer?.error === 'string'
        ? outer.error
        : fallback.slice(0, 500) || 'no body';
  const code = typeof inner?.code === 'string' ? inner.code : undefined;
  return { message, code };
}

/**
 * Reads a non-streaming answer's JSON body whole, refusing more than
 * `MAX_EVENT_BYTES` without buffering the rest. An `{error}` body (some servers
 * answer 200 with one) and a body that is not a JSON object fail as
 * `ChatCompletionsError`.
 */
export async function readChatJson(body: Readable): Promise<Record<string, unknown>> {
  const text = await readCapped(body, MAX_EVENT_BYTES);
  const payload = parseJson(text);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new ChatCompletionsError('malformed answer JSON', undefined, undefined, undefined);
  const rec = payload as Record<string, unknown>;
  if (rec.error !== undefined && rec.error !== null) {
    const { message, code } = describeError(rec, text);
    throw new ChatCompletionsError(message, undefined, code, undefined);
  }
  return rec;
}

/** The body as UTF-8 text; more than `max` bytes fails (and destroys it) without buffering the rest. */
function readCapped(body: Readable, max: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      over = true;
      abandon(body, onData, stopWatching);
      reject(
        new ChatCompletionsError(
          `answer larger than ${max} bytes`,
          undefined,
          undefined,
          undefined,
        ),
      );
    };
    const stopWatching = finished(body, (err) => {
      if (over) return;
      over = true;
      stopWatching();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size).toString('utf8'));
    });
    body.on('data', onData);
  });
}

/**
 * Feeds an SSE body to `onJson` one parsed `data:` payload at a time until
 * `[DONE]`, an error event, or the end of the body. Multi-line `data:` fields
 * are joined with newlines (WHATWG SSE), comments and `retry:` are ignored, a
 * UTF-8 sequence split across socket reads is decoded whole. `afterChunk` runs
 * after each socket read; when it returns a promise the body is paused until it
 * settles (back-pressure). Resolves true when `[DONE]` was seen; rejects with the
 * body's error, a premature close, an error event or a failed `afterChunk`.
 *
 * Read with 'data' events rather than the stream's async iterator: one promise
 * and one microtask less per upstream chunk, on the per-token path.
 */
export function readChatSse(
  body: Readable,
  onJson: (payload: Record<string, unknown>) => void,
  afterChunk: () => Promise<void> | undefined,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let done = false;
    let failure: Error | undefined;
    let over = false;
    const onEvent = (ev: EventSourceMessage) => {
      if (done || failure) return;
      if (ev.data === '[DONE]') {
        done = true;
        return;
      }
      const payload = parseJson(ev.data);
      if (typeof payload !== 'object' || payload === null) {
        failure = new ChatCompletionsError(
          'malformed server-sent event JSON',
          undefined,
          undefined,
          undefined,
        );
        return;
      }
      const rec = payload as Record<string, unknown>;
      if (ev.event === 'error' || (rec.error !== undefined && rec.error !== null)) {
        const { message, code } = describeError(rec, ev.data);
        failure = new ChatCompletionsError(message, undefined, code, undefined);
        return;
      }
      onJson(rec);
    };
    // made with the first bytes: a stream still waiting for its first token holds neither
    let parser: EventSourceParser | undefined;
    let utf8: StringDecoder | undefined;
    // what fails a read: stream errors (from Node's realm, not always this one's Error),
    // a consumer's throw, an error event, a failed back-pressure wait; passed on as they came
    const fail = (e: Error) => {
      if (over) return;
      over = true;
      abandon(body, onData, stopWatching);
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      // after [DONE] the rest is read to its end, so the socket goes back to the pool
      if (done || over) return;
      parser ??= createParser({
        onEvent,
        onError: (e) => {
          // unknown fields are ignored, as the SSE standard says; an endless line is not
          if (e.type === 'max-buffer-size-exceeded')
            failure ??= new ChatCompletionsError(e.message, undefined, undefined, undefined);
        },
        maxBufferSize: MAX_EVENT_BYTES,
      });
      utf8 ??= new StringDecoder('utf8');
      try {
        // runs the events' consumers too: a throw there must fail this read, not the socket's parser
        parser.feed(utf8.write(chunk));
      } catch (e) {
        return fail(e as Error);
      }
      if (failure) return fail(failure);
      const wait = afterChunk();
      if (!wait) return;
      body.pause();
      wait.then(
        () => {
          if (!over) body.resume();
        },
        (e: unknown) => fail(e as Error),
      );
    };
    const stopWatching = finished(body, (err) => {
      if (over) return;
      if (err) return fail(err);
      over = true;
      stopWatching();
      // the body ended: a last event without its blank line still counts
      try {
        if (!done && parser && utf8) parser.feed(`${utf8.end()}\n\n`);
      } catch (e) {
        failure = e as Error;
      }
      if (failure) reject(failure);
      else resolve(done);
    });
    body.on('data', onData);
  });
}
