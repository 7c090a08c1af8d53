import { FlowControl } from '@switchboard/llm';
import type { Response } from 'express';

/**
 * A text/event-stream response with back-pressure. Headers are committed lazily
 * (first frame or first heartbeat) so errors that happen before anything was
 * sent can still be answered with a real HTTP status.
 */
export class SseResponse {
  readonly flow = new FlowControl();
  #lastWrite = performance.now();
  #ended = false;

  constructor(
    private readonly res: Response,
    private readonly heartbeatMs: number,
  ) {
    res.on('drain', () => this.flow.resume());
  }

  /** true once anything was sent or queued: from then on errors are frames */
  get started(): boolean {
    return this.res.headersSent || this.#pending.length > 0;
  }

  get ended(): boolean {
    return this.#ended || this.res.writableEnded || this.res.destroyed;
  }

  #open(): void {
    if (this.res.headersSent) return;
    this.res.status(200);
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache, no-transform');
    this.res.setHeader('Connection', 'keep-alive');
    // Proxies (nginx, some CDNs) must not buffer the stream.
    this.res.setHeader('X-Accel-Buffering', 'no');
    // No flushHeaders(): every caller writes right after opening, so the
    // headers leave in the same write as the first frame (one syscall, not two).
    // Each frame is its own small write; Nagle would delay them.
    this.res.socket?.setNoDelay(true);
  }

  #pending = '';
  #flushScheduled = false;

  /**
   * Queues one `data:` frame (with an `event:` line when named). Frames queued in
   * the same tick leave in one write (one syscall); the flow pauses when the
   * socket buffer is full.
   */
  data(payload: string, event?: string): void {
    if (this.ended) return;
    this.#lastWrite = performance.now();
    this.#pending += event ? `event: ${event}\ndata: ${payload}\n\n` : `data: ${payload}\n\n`;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (!this.#pending || this.ended) return;
    this.#open();
    const chunk = this.#pending;
    this.#pending = '';
    if (!this.res.write(chunk)) this.flow.pause();
  };

  heartbeat(now: number): void {
    if (this.ended || this.flow.paused) return;
    if (now - this.#lastWrite < this.heartbeatMs / 2) return;
    this.#open();
    this.#lastWrite = now;
    if (!this.res.write(': keep-alive\n\n')) this.flow.pause();
  }

  end(): void {
    if (this.ended) return;
    this.#flush();
    this.#ended = true;
    this.#open();
    this.res.end();
  }
}
