import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
  Optional,
  type Provider,
} from '@nestjs/common';
import { createDatabase, type CreateDatabaseOptions } from './create-database';
import { DATABASE, type Database, type Migration } from './database.port';
import { Migrator } from './migrator';
import { REDIS, RedisConnection, type RedisConnectionOptions } from './redis.connection';
import type { StorageLogger } from './storage.logger';

export const STORAGE_OPTIONS = Symbol('STORAGE_OPTIONS');

export interface StorageModuleOptions {
  database: CreateDatabaseOptions;
  /** an already-open database to use instead of opening one (tests: a template PGlite); closed on shutdown */
  useDatabase?: Database;
  /** REDIS_URL; unset = no Redis (domain modules fall back to in-process state) */
  redisUrl?: string;
  redis?: RedisConnectionOptions;
  /** applied at boot, before DATABASE is handed to anyone */
  migrations?: Migration[];
  /** ms to wait for Redis at boot before failing (default 5 s) */
  redisReadyTimeoutMs?: number;
  /** where the database, the migrator and Redis log (default: Nest's logger) */
  logger?: StorageLogger;
  /**
   * Told of each connection as it opens. Nest runs no shutdown hook when a later
   * provider fails while the app is being built, so the caller closes these then.
   */
  track?: (connection: { close(): Promise<void> }) => void;
}

export interface StorageModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => StorageModuleOptions | Promise<StorageModuleOptions>;
}

@Injectable()
export class StorageLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Optional() @Inject(RedisConnection) private readonly redis?: RedisConnection | null,
  ) {}

  // Nest runs shutdown hooks from the root module towards the global ones, so this
  // (global) runs after every other module's, once ledgers have flushed.
  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.db.close(), this.redis?.close()]);
  }
}

const nestLogger = new Logger('Storage');

const databaseProvider: Provider = {
  provide: DATABASE,
  inject: [STORAGE_OPTIONS],
  useFactory: async (opts: StorageModuleOptions): Promise<Database> => {
    const logger = opts.logger ?? nestLogger;
    const db = opts.useDatabase ?? (await createDatabase({ logger, ...opts.database }));
    opts.track?.(db);
    logger.log(`database: ${db.kind}${db.hasVector ? ' with pgvector' : ' without pgvector'}`);
    if (opts.migrations && opts.migrations.length > 0) {
      try {
        await new Migrator(db, logger).migrate(opts.migrations);
      } catch (err) {
        await db.close();
        throw err;
      }
    }
    return db;
  },
};

const redisConnectionProvider: Provider = {
  provide: RedisConnection,
  // after the database: Nest builds independent providers concurrently, and a Redis
  // failure must not leave a database half-opened (or half-migrated) behind
  inject: [STORAGE_OPTIONS, DATABASE],
  useFactory: async (opts: StorageModuleOptions): Promise<RedisConnection | null> => {
    if (!opts.redisUrl) return null;
    const conn = new RedisConnection(opts.redisUrl, {
      logger: opts.logger ?? nestLogger,
      ...opts.redis,
    });
    opts.track?.(conn);
    try {
      await conn.waitUntilReady(opts.redisReadyTimeoutMs ?? 5_000);
    } catch (err) {
      await conn.close();
      throw err;
    }
    return conn;
  },
};

const redisClientProvider: Provider = {
  provide: REDIS,
  inject: [RedisConnection],
  useFactory: (conn: RedisConnection | null) => conn?.client ?? null,
};

/**
 * Provides DATABASE (PGlite or PostgreSQL, migrated), `RedisConnection` and
 * REDIS (the ioredis client) — the last two are `null` without a Redis URL, so
 * inject them with `@Optional()` and treat null as "in-process mode".
 * Global: domain modules inject these tokens without importing this module.
 */
@Module({})
export class StorageModule {
  static forRoot(options: StorageModuleOptions): DynamicModule {
    return StorageModule.build([{ provide: STORAGE_OPTIONS, useValue: options }]);
  }

  static forRootAsync(options: StorageModuleAsyncOptions): DynamicModule {
    return StorageModule.build(
      [{ provide: STORAGE_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory }],
      options.imports,
    );
  }

  private static build(
    optionProviders: Provider[],
    imports: DynamicModule['imports'] = [],
  ): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      imports,
      providers: [
        ...optionProviders,
        databaseProvider,
        redisConnectionProvider,
        redisClientProvider,
        StorageLifecycle,
      ],
      exports: [DATABASE, RedisConnection, REDIS],
    };
  }
}
