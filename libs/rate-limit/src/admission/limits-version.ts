import { AppError } from '@switchboard/common';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A counter bumped by every change to budgets or limits through the admin API.
 * Replicas cache limits and budget settings only while the version they loaded
 * them at is current, so a change applies to the very next request everywhere.
 */
export interface LimitsVersion {
  current(): Promise<string>;
  bump(): Promise<void>;
}

export class MemoryLimitsVersion implements LimitsVersion {
  #v = 0;
  current(): Promise<string> {
    return Promise.resolve(String(this.#v));
  }
  bump(): Promise<void> {
    this.#v++;
    return Promise.resolve();
  }
}

/**
 * The version lives in Redis next to the budgets. If Redis loses it (restart,
 * failover, eviction) it reads as a new value, which only forces a reload.
 * Every bump writes a value never used before: a counter would start again
 * after such a loss, and a replica idle since it cached settings under the
 * counter's old value would take a later change for the version it has.
 */
export class RedisLimitsVersion implements LimitsVersion {
  constructor(
    private readonly redis: Redis,
    readonly key = 'sb:{budget}:limits-version',
  ) {}

  async current(): Promise<string> {
    return (await this.redis.get(this.key)) ?? 'unset';
  }

  async bump(): Promise<void> {
    await this.redis.set(this.key, randomUUID());
  }
}

/**
 * Tells every replica that budgets or limits changed. Called after the change is
 * stored: if the broadcast fails, replicas that cannot read the version load
 * limits uncached anyway, and the caller learns the change may lag.
 */
export async function limitsChanged(version: LimitsVersion): Promise<void> {
  try {
    await version.bump();
  } catch (e) {
    throw new AppError(
      'service_unavailable',
      'The change was saved, but other replicas could not be told yet; repeat it to be sure it applies at once.',
      { retryAfterSeconds: 1, cause: e },
    );
  }
}
