import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { IncomingHttpHeaders } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { errors, Pool, type Dispatcher } from 'undici';

/**
 * Chat Completions over undici: one keep-alive `Pool` per upstream origin, each
 * request dispatched with a handler that hands the body's chunks straight to an
 * SSE parser. The openai SDK's fetch + web-stream reader costs a large share of
 * the gateway's CPU per token; this path sends the same bytes (URL and headers
 * come from the SDK client, see `OpenAiChatProvider`) and reads them without a
 * stream in between: undici's `request()` would push each chunk through a Node
 * Readable (its buffer, its ticks) only for the parser to take it out again.
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
/** An error body still going past this is cut off (its socket closed) rather than drained. */
const MAX_ERROR_DRAIN = 1024 * 1024;
/** An SSE event larger than this is a broken or hostile upstream. */
const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/** Where a body's chunks go, one reader per body. */
export interface BodyReader {
  /** one chunk; the reader may call `pause()` on the body from inside */
  data(chunk: Buffer): void;
  /** the body ended (no error) or failed; called once, after the last `data` */
  end(error?: Error): void;
}

/** What the dispatcher lets a body do to its request. */
export interface BodySource {
  pause(): void;
  resume(): void;
  abort(reason: Error): void;
}

/**
 * An upstream response body: the chunks undici hands over, passed to one reader
 * as they come, with back-pressure (`pause` stops the socket being read, and
 * chunks already parsed wait here) and `destroy` (aborts the request, so the
 * socket is closed rather than reused, and ends the read with its reason).
 * Chunks, and the end, that arrive before the reader attaches wait for it.
 */
export class UpstreamBody {
  #reader: BodyReader | undefined;
  readonly #queued: Buffer[] = [];
  #paused = false;
  /** how the body ended, once it did: `null` = cleanly */
  #ending: Error | null | undefined;
  /** the reader was told the end */
  #told = false;
  #destroyed = false;

  constructor(private readonly source: BodySource) {}

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Attaches the reader (once) and hands it what already arrived. */
  read(reader: BodyReader): void {
    if (this.#reader) throw new Error('this body already has a reader');
    this.#reader = reader;
    this.#drain();
  }

  pause(): void {
    if (this.#paused || this.#ending !== undefined) return;
    this.#paused = true;
    this.source.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#drain();
    if (!this.#paused && this.#ending === undefined) this.source.resume();
  }

  /** Stops for good: no more chunks reach the reader, whose read ends with `reason`. */
  destroy(reason: Error = new errors.RequestAbortedError()): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#queued.length = 0;
    const open = this.#ending === undefined;
    this.#ending = reason;
    if (open) this.source.abort(reason);
    this.#drain();
  }

  /** from the source: one chunk of the body */
  push(chunk: Buffer): void {
    if (this.#ending !== undefined) return;
    if (this.#reader && !this.#paused && this.#queued.length === 0) this.#reader.data(chunk);
    else this.#queued.push(chunk);
  }

  /** from the source: the body's end, or its failure */
  end(error?: Error): void {
    if (this.#ending !== undefined) return;
    this.#ending = error ?? null;
    this.#drain();
  }

  #drain(): void {
    const reader = this.#reader;
    if (!reader || this.#told) return;
    while (!this.#paused && !this.#destroyed && this.#queued.length > 0) {
      reader.data(this.#queued.shift() as Buffer);
    }
    if (this.#ending === undefined || this.#told) return;
    if (!this.#destroyed && (this.#paused || this.#queued.length > 0)) return;
    this.#told = true;
    reader.end(this.#ending ?? undefined);
  }
}

/** A response whose status and headers arrived; its body is still to be read. */
export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

/**
 * One dispatched request: resolves with the response at its headers (a 1xx is
 * skipped), then feeds the body. Aborting `signal` aborts the request whatever
 * its stage; the error it fails with is the signal's reason, as undici's
 * `request()` does.
 */
class ResponseHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | undefined;
  #body: UpstreamBody | undefined;
  #abortedWith: Error | undefined;
  readonly #onAbort = (): void => this.#abort(reason(this.signal));

  constructor(
    private readonly signal: AbortSignal,
    private readonly settle: {
      resolve(res: UpstreamResponse): void;
      reject(e: Error): void;
    },
  ) {
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  #abort(e: Error): void {
    this.#abortedWith ??= e;
    if (this.#body) this.#body.destroy(e);
    else this.#controller?.abort(e);
  }

  #done(): void {
    this.signal.removeEventListener('abort', this.#onAbort);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortedWith) controller.abort(this.#abortedWith);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return;
    this.#body = new UpstreamBody(controller);
    this.settle.resolve({ statusCode, headers, body: this.#body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body?.push(chunk);
  }

  onResponseEnd(): void {
    this.#done();
    this.#body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.#done();
    if (this.#body) this.#body.end(error);
    else this.settle.reject(error);
  }
}

function reason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new errors.RequestAbortedError();
}

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
  ): Promise<UpstreamResponse> {
    if (signal.aborted) throw reason(signal);
    const { url, headers } = endpoint;
    const pool = this.#pool(url.origin);
    // undici reports a request it cannot even queue to the handler's onResponseError
    const res = await new Promise<UpstreamResponse>((resolve, reject) => {
      pool.dispatch(
        { method: 'POST', path: url.pathname + url.search, headers, body },
        new ResponseHandler(signal, { resolve, reject }),
      );
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

async function errorFromResponse(res: UpstreamResponse): Promise<ChatCompletionsError> {
  let text = '';
  try {
    text = await readCapped(res.body, MAX_ERROR_BODY, MAX_ERROR_DRAIN);
  } catch {
    // a body cut short still leaves the status to classify by
  }
  // undici lists a repeated header's values in an array
  const retryAfter: string | string[] | undefined = res.headers['retry-after'];
  const { message, code } = describeError(parseJson(text), text);
  return new ChatCompletionsError(
    `${res.statusCode} ${message}`,
    res.statusCode,
    code,
    typeof retryAfter === 'string' ? retryAfter : retryAfter?.[0],
  );
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
export async function readChatJson(body: UpstreamBody): Promise<Record<string, unknown>> {
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

/**
 * The body as UTF-8 text. Past `max` bytes it fails and destroys the body; with
 * `drain` it keeps the first `max` bytes instead and reads on without keeping
 * them (an error body, whose socket can then be reused), up to `drain` bytes in
 * all, where it answers what it kept and destroys the body.
 */
function readCapped(body: UpstreamBody, max: number, drain?: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const text = () => Buffer.concat(chunks, Math.min(size, max)).toString('utf8');
    body.read({
      data(chunk) {
        const room = max - size;
        size += chunk.length;
        if (size <= max) {
          chunks.push(chunk);
          return;
        }
        if (drain !== undefined) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          if (size > drain) {
            resolve(text());
            body.destroy();
          }
          return;
        }
        const e = new ChatCompletionsError(
          `answer larger than ${max} bytes`,
          undefined,
          undefined,
          undefined,
        );
        reject(e);
        body.destroy(e);
      },
      end(error) {
        if (error) reject(error);
        else resolve(text());
      },
    });
  });
}

/**
 * Feeds an SSE body to `onJson` one parsed `data:` payload at a time until
 * `[DONE]`, an error event, or the end of the body. Multi-line `data:` fields
 * are joined with newlines (WHATWG SSE), comments and `retry:` are ignored, a
 * UTF-8 sequence split across socket reads is decoded whole. `afterChunk` runs
 * after each socket read; when it returns a promise the body is paused until it
 * settles (back-pressure). Resolves true when `[DONE]` was seen; rejects with the
 * body's error, an error event or a failed `afterChunk`, and destroys the body.
 */
export function readChatSse(
  body: UpstreamBody,
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
    // what fails a read: the body's error, a consumer's throw, an error event, a
    // failed back-pressure wait; passed on as they came
    const fail = (e: Error) => {
      if (over) return;
      over = true;
      reject(e);
      body.destroy(e);
    };
    body.read({
      data(chunk) {
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
      },
      end(error) {
        if (over) return;
        if (error) return fail(error);
        over = true;
        // the body ended: a last event without its blank line still counts
        try {
          if (!done && parser && utf8) parser.feed(`${utf8.end()}\n\n`);
        } catch (e) {
          failure = e as Error;
        }
        if (failure) reject(failure);
        else resolve(done);
      },
    });
  });
}
