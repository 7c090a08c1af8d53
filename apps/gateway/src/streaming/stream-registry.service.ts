import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { MetricsService } from '@switchboard/observability';
import type { ErrorCode } from '@switchboard/common';

/** One open chat request as the registry sees it. */
export interface OpenStream {
  readonly requestId: string;
  readonly ownerUserId: string;
  /** ends the stream with an error frame of this code (kill switch, drain deadline) */
  stop(code: Extract<ErrorCode, 'cancelled' | 'draining'>): void;
  /** writes a heartbeat comment if nothing was written recently; no-op when not SSE */
  heartbeat(now: number): void;
}

/**
 * Every open chat stream in this process: counts them for the metrics and for
 * draining, finds them for the kill switch, and drives ONE heartbeat timer for all
 * of them (a timer per stream costs memory at thousands of idle streams).
 */
@Injectable()
export class StreamRegistry implements OnModuleDestroy {
  readonly #streams = new Map<string, Set<OpenStream>>();
  #count = 0;
  #timer?: NodeJS.Timeout;
  #emptyWaiters: Array<() => void> = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {}

  get size(): number {
    return this.#count;
  }

  add(s: OpenStream): () => void {
    let set = this.#streams.get(s.requestId);
    if (!set) this.#streams.set(s.requestId, (set = new Set()));
    set.add(s);
    this.#count++;
    this.metrics.activeStreams.set(this.#count);
    this.#ensureTimer();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      set.delete(s);
      if (set.size === 0) this.#streams.delete(s.requestId);
      this.#count--;
      this.metrics.activeStreams.set(this.#count);
      if (this.#count === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        const w = this.#emptyWaiters;
        this.#emptyWaiters = [];
        for (const f of w) f();
      }
    };
  }

  /** Stops the streams of requestId that `userId` may stop; returns how many. */
  kill(requestId: string, userId: string | undefined): number {
    let n = 0;
    for (const s of this.#streams.get(requestId) ?? []) {
      if (userId === undefined || s.ownerUserId === userId) {
        s.stop('cancelled');
        n++;
      }
    }
    return n;
  }

  stopAll(code: 'draining' | 'cancelled'): void {
    for (const set of [...this.#streams.values()]) for (const s of [...set]) s.stop(code);
  }

  /** Resolves when no stream is open, or after `ms`. Returns true if empty. */
  waitForEmpty(ms: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.#count === 0), ms);
      this.#emptyWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  #ensureTimer(): void {
    if (this.#timer) return;
    // Ticking at half the interval bounds the silence on any stream by the interval.
    const every = Math.max(250, Math.floor(this.config.chat.heartbeatMs / 2));
    this.#timer = setInterval(() => {
      const now = performance.now();
      for (const set of this.#streams.values()) for (const s of set) s.heartbeat(now);
    }, every);
    this.#timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.#timer);
  }
}
