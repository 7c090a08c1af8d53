import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { LIMIT_STORE, type Clock, type LimitStore } from './limit-store.port';
import { MemoryLimitStore } from './memory-limit.store';
import { RedisLimitStore } from './redis-limit.store';
import { RateLimitService } from './rate-limit.service';

export const RATE_LIMIT_OPTIONS = Symbol('RATE_LIMIT_OPTIONS');

export interface RateLimitModuleOptions {
  /** a connected client (REDIS_URL); absent or null = in-process limits */
  redis?: Redis | null;
  /** see RateLimitServiceOptions.failOpen (default true) */
  failOpen?: boolean;
  /** Redis key prefix (default `sb:rl:`) */
  keyPrefix?: string;
  /** ms before a Redis call counts as failed (default 500) */
  timeoutMs?: number;
  /** sliding window (default 60 000) */
  windowMs?: number;
  /** clock of the in-process store (tests) */
  clock?: Clock;
}

export interface RateLimitModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => RateLimitModuleOptions | Promise<RateLimitModuleOptions>;
}

/** the store the options call for: Redis when a client is given, else in-process */
export function createLimitStore(opts: RateLimitModuleOptions): LimitStore {
  return opts.redis
    ? new RedisLimitStore(opts.redis, { keyPrefix: opts.keyPrefix, timeoutMs: opts.timeoutMs })
    : new MemoryLimitStore(opts.clock);
}

const providers: Provider[] = [
  {
    provide: LIMIT_STORE,
    inject: [RATE_LIMIT_OPTIONS],
    useFactory: (opts: RateLimitModuleOptions) => createLimitStore(opts),
  },
  {
    provide: RateLimitService,
    inject: [LIMIT_STORE, RATE_LIMIT_OPTIONS],
    useFactory: (store: LimitStore, opts: RateLimitModuleOptions) =>
      new RateLimitService(store, { failOpen: opts.failOpen, windowMs: opts.windowMs }),
  },
];

/**
 * Provides `RateLimitService` (and the `LIMIT_STORE` port). The Redis client is
 * owned by the caller (storage module) and not closed here.
 */
@Module({})
export class RateLimitModule {
  static forRoot(opts: RateLimitModuleOptions = {}): DynamicModule {
    return {
      module: RateLimitModule,
      providers: [{ provide: RATE_LIMIT_OPTIONS, useValue: opts }, ...providers],
      exports: [RateLimitService, LIMIT_STORE],
    };
  }

  static forRootAsync(opts: RateLimitModuleAsyncOptions): DynamicModule {
    return {
      module: RateLimitModule,
      imports: opts.imports ?? [],
      providers: [
        { provide: RATE_LIMIT_OPTIONS, inject: opts.inject ?? [], useFactory: opts.useFactory },
        ...providers,
      ],
      exports: [RateLimitService, LIMIT_STORE],
    };
  }
}
