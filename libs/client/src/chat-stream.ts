import { FrameError, parseChatFrame } from './chat-frames';
import { SseParser } from './sse-parser';
import type { ChatStreamEvent } from './types';

/** What served a stream, from the response headers. */
export interface StreamInfo {
  /** the correlation id (the request's `options.requestId`, echoed in `x-request-id`) */
  requestId: string;
  /** `x-switchboard-model`: the catalogue model that served (after fallbacks) */
  model: string | undefined;
  /** `x-switchboard-attempt`: 1 for the first attempt, more after retries/fallbacks */
  attempt: number | undefined;
  headers: Headers;
}

export function streamInfo(res: Response, requestId: string): StreamInfo {
  const attempt = Number(res.headers.get('x-switchboard-attempt'));
  return {
    requestId: res.headers.get('x-request-id') ?? requestId,
    model: res.headers.get('x-switchboard-model') ?? undefined,
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : undefined,
    headers: res.headers,
  };
}

/** Decodes a byte stream and yields its SSE messages as they complete. */
export async function* sseMessages(body: ReadableStream<Uint8Array>, signal?: AbortSignal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    parser.end();
  } catch (e) {
    if (signal?.aborted) return;
    throw e;
  } finally {
    reader.releaseLock();
  }
}

/**
 * A running `/chat` stream: iterate it for typed events. `cancel()` asks the
 * gateway to stop the request (kill switch, which also stops it on another
 * replica) and aborts the connection; the gateway then records the partial
 * answer as cancelled.
 */
export class ChatStream implements AsyncIterable<ChatStreamEvent> {
  readonly info: StreamInfo;
  #iterated = false;
  #ended = false;

  constructor(
    private readonly res: Response,
    requestId: string,
    private readonly controller: AbortController,
    private readonly kill: (requestId: string) => Promise<boolean>,
  ) {
    this.info = streamInfo(res, requestId);
  }

  get requestId(): string {
    return this.info.requestId;
  }

  /** Stops the request at the gateway, then closes the connection. Safe to call twice. */
  async cancel(): Promise<void> {
    if (this.#ended || this.controller.signal.aborted) return;
    try {
      await this.kill(this.info.requestId);
    } finally {
      this.controller.abort();
    }
  }

  /** Closes the connection only; the gateway sees the client leave and cancels upstream. */
  abort(): void {
    this.controller.abort();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatStreamEvent> {
    if (this.#iterated) throw new Error('a ChatStream can be iterated once');
    this.#iterated = true;
    if (!this.res.body) throw new FrameError('response has no body', '');
    const signal = this.controller.signal;
    for await (const msg of sseMessages(this.res.body, signal)) {
      const ev = parseChatFrame(msg);
      if (!ev) continue;
      if (ev.type === 'end') this.#ended = true;
      yield ev;
    }
    if (!this.#ended && !signal.aborted)
      throw new FrameError('the stream ended without an end frame', '');
  }
}
