import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS } from '@switchboard/storage';
import { LIMITS_VERSION, REQUEST_CLAIMS } from './admission/admission.tokens';
import { FailOpenTally } from './admission/fail-open.tally';
import { MemoryLimitsVersion, RedisLimitsVersion } from './admission/limits-version';
import { MemoryRequestClaims, RedisRequestClaims } from './admission/request-claims';
import { LIMIT_STORE, type Clock, type LimitStore } from './limit-store.port';
import { MemoryLimitStore } from './memory-limit.store';
import { RedisLimitStore } from './redis-limit.store';
import { RateLimitService } from './rate-limit.service';

export const RATE_LIMIT_OPTIONS = Symbol('RATE_LIMIT_OPTIONS');

export interface RateLimitModuleOptions {
  /**
   * a connected client; absent = the REDIS client of StorageModule when there is
   * one; null (or no client at all) = in-process limits, claims and versions
   */
  redis?: Redis | null;
  /** see RateLimitServiceOptions.failOpen (default true) */
  failOpen?: boolean;
  /** Redis key prefix (default `sb:rl:`) */
  keyPrefix?: string;
  /** the limit keys' Redis Cluster hash tag (see `RedisLimitStoreOptions.hashTag`) */
  hashTag?: string;
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
    ? new RedisLimitStore(opts.redis, {
        keyPrefix: opts.keyPrefix,
        hashTag: opts.hashTag,
        timeoutMs: opts.timeoutMs,
      })
    : new MemoryLimitStore(opts.clock);
}

/** the options with `redis` resolved: given explicitly, else StorageModule's client */
const RESOLVED = Symbol('RATE_LIMIT_RESOLVED');

const providers: Provider[] = [
  {
    provide: RESOLVED,
    inject: [RATE_LIMIT_OPTIONS, { token: REDIS, optional: true }],
    useFactory: (opts: RateLimitModuleOptions, shared?: Redis | null): RateLimitModuleOptions => ({
      ...opts,
      redis: opts.redis === undefined ? (shared ?? null) : opts.redis,
    }),
  },
  {
    provide: LIMIT_STORE,
    inject: [RESOLVED],
    useFactory: (opts: RateLimitModuleOptions) => createLimitStore(opts),
  },
  {
    provide: RateLimitService,
    inject: [LIMIT_STORE, RESOLVED],
    useFactory: (store: LimitStore, opts: RateLimitModuleOptions) =>
      new RateLimitService(store, { failOpen: opts.failOpen, windowMs: opts.windowMs }),
  },
  {
    provide: REQUEST_CLAIMS,
    inject: [RESOLVED],
    useFactory: (opts: RateLimitModuleOptions) =>
      opts.redis ? new RedisRequestClaims(opts.redis) : new MemoryRequestClaims(),
  },
  {
    provide: LIMITS_VERSION,
    inject: [RESOLVED],
    useFactory: (opts: RateLimitModuleOptions) =>
      opts.redis ? new RedisLimitsVersion(opts.redis) : new MemoryLimitsVersion(),
  },
  { provide: FailOpenTally, useFactory: () => new FailOpenTally() },
];

const exported = [RateLimitService, LIMIT_STORE, REQUEST_CLAIMS, LIMITS_VERSION, FailOpenTally];

/**
 * Admission state shared by all replicas: `RateLimitService` (and the
 * `LIMIT_STORE` port), the client request ids in flight (REQUEST_CLAIMS), the
 * limits version (LIMITS_VERSION) and the fail-open tally. The Redis client is
 * owned by StorageModule and not closed here.
 */
@Module({})
export class RateLimitModule {
  static forRoot(opts: RateLimitModuleOptions = {}): DynamicModule {
    return {
      module: RateLimitModule,
      providers: [{ provide: RATE_LIMIT_OPTIONS, useValue: opts }, ...providers],
      exports: exported,
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
      exports: exported,
    };
  }
}
