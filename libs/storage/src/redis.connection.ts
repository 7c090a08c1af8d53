import { Redis, type RedisOptions } from 'ioredis';
import type { StorageLogger } from './storage.logger';

export const REDIS = Symbol('REDIS');

export interface RedisConnectionOptions {
  /** per-command retries while reconnecting before the call fails (default 1) */
  maxRetriesPerRequest?: number;
  /** ms to establish the TCP connection (default 2 s) */
  connectTimeoutMs?: number;
  /** ms a single command may take before it fails (default 2 s) */
  commandTimeoutMs?: number;
  logger?: StorageLogger;
  /** extra ioredis options, applied last */
  redis?: RedisOptions;
}

/**
 * An ioredis client tuned to fail fast: with the offline queue disabled a call
 * made while Redis is unreachable rejects at once instead of waiting for a
 * reconnect, so limits and budgets can apply their fail-open/closed policy
 * within the request instead of hanging the stream.
 */
export class RedisConnection {
  readonly client: Redis;

  constructor(
    readonly url: string,
    opts: RedisConnectionOptions = {},
  ) {
    const logger = opts.logger;
    this.client = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 1,
      connectTimeout: opts.connectTimeoutMs ?? 2_000,
      commandTimeout: opts.commandTimeoutMs ?? 2_000,
      // keep reconnecting forever, backing off to 2 s between attempts
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      ...opts.redis,
    });
    let lastLogged = 0;
    this.client.on('error', (err: Error) => {
      // ioredis emits on every failed reconnect; one line per 10 s is enough
      const now = Date.now();
      if (now - lastLogged > 10_000) {
        lastLogged = now;
        logger?.error(`redis error: ${err.message}`);
      }
    });
  }

  /** ioredis connection status (`ready`, `reconnecting`, `end`...), read without a round trip */
  get status(): string {
    return this.client.status;
  }

  /** whether commands can be sent now */
  get up(): boolean {
    return this.client.status === 'ready';
  }

  /** resolves once the client is ready, rejects after `timeoutMs` */
  waitUntilReady(timeoutMs = 5_000): Promise<void> {
    if (this.client.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        reject(new Error(`redis not ready after ${timeoutMs} ms (status ${this.client.status})`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('ready', onReady);
    });
  }

  /** readiness probe: a PING round trip */
  async ping(): Promise<void> {
    const pong = await this.client.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING reply ${String(pong)}`);
  }

  /** QUIT, then waits (up to 1 s) for the socket to end so nothing keeps the process alive */
  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      // not connected: QUIT cannot be sent; stop reconnecting and drop the socket
      this.client.disconnect(false);
      return;
    }
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.client.disconnect();
        resolve();
      }, 1_000);
      this.client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
    await ended;
  }
}
