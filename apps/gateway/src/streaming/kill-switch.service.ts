import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StreamRegistry } from './stream-registry.service';

const KILL = 'sb:kill';
const ACK = 'sb:kill-ack';
const ACK_WAIT_MS = 300;

export const KILL_SWITCH_REDIS = Symbol('KILL_SWITCH_REDIS');

interface KillMessage {
  nonce: string;
  requestId: string;
  /** undefined = admin: any owner */
  userId?: string;
}

/**
 * The kill switch: stops a request wherever it runs. In-process it asks the local
 * registry; with Redis it also broadcasts to every replica over pub/sub and waits
 * briefly for a replica that ran the request to acknowledge.
 */
@Injectable()
export class KillSwitch implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('kill-switch');
  #sub?: Redis;
  readonly #waiting = new Map<string, () => void>();

  constructor(
    private readonly registry: StreamRegistry,
    private readonly redis: Redis | null,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.redis) return;
    // A subscribed connection can do nothing else: use a dedicated one.
    this.#sub = this.redis.duplicate();
    this.#sub.on('error', (e: Error) => this.log.warn(`kill-switch subscriber: ${e.message}`));
    this.#sub.on('message', (channel: string, raw: string) => this.#onMessage(channel, raw));
    const sub = this.#sub;
    if (sub.status !== 'ready')
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error('kill-switch subscriber: Redis not ready in 5 s')),
          5000,
        );
        sub.once('ready', () => {
          clearTimeout(t);
          resolve();
        });
      });
    await sub.subscribe(KILL, ACK);
  }

  #onMessage(channel: string, raw: string): void {
    let msg: KillMessage;
    try {
      msg = JSON.parse(raw) as KillMessage;
    } catch {
      return;
    }
    if (channel === ACK) {
      this.#waiting.get(msg.nonce)?.();
      return;
    }
    if (this.registry.kill(msg.requestId, msg.userId) > 0)
      this.redis?.publish(ACK, JSON.stringify(msg)).catch(() => undefined);
  }

  /** Returns true when some replica (this one included) stopped the request. */
  async kill(requestId: string, userId: string | undefined): Promise<boolean> {
    if (this.registry.kill(requestId, userId) > 0) return true;
    if (!this.redis || !this.#sub) return false;
    const msg: KillMessage = { nonce: randomUUID(), requestId, userId };
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(msg.nonce);
        resolve(false);
      }, ACK_WAIT_MS);
      this.#waiting.set(msg.nonce, () => {
        clearTimeout(timer);
        this.#waiting.delete(msg.nonce);
        resolve(true);
      });
    });
    try {
      await this.redis.publish(KILL, JSON.stringify(msg));
    } catch (e) {
      this.log.warn(`kill-switch broadcast failed: ${(e as Error).message}`);
    }
    return acked;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#sub?.quit().catch(() => undefined);
  }
}
