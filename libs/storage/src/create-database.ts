import type { Database } from './database.port';
import { PgliteDatabase } from './pglite.database';
import { PostgresDatabase } from './postgres.database';
import type { StorageLogger } from './storage.logger';

export interface CreateDatabaseOptions {
  /** DATABASE_URL; when set, PostgreSQL is used and `dataDir` is ignored */
  url?: string;
  /** DATA_DIR; the embedded database lives in `<dataDir>/pglite` */
  dataDir: string;
  /** embedded database kept in memory only (tests, throwaway demos) */
  inMemory?: boolean;
  /** PostgreSQL pool size (default 10) */
  poolSize?: number;
  logger?: StorageLogger;
}

/** Picks the adapter: PostgreSQL when a URL is given, otherwise embedded PGlite. */
export async function createDatabase(opts: CreateDatabaseOptions): Promise<Database> {
  if (opts.url) {
    return PostgresDatabase.connect({
      url: opts.url,
      poolSize: opts.poolSize,
      logger: opts.logger,
    });
  }
  return PgliteDatabase.create({
    dataDir: opts.inMemory ? undefined : `${opts.dataDir.replace(/\/+$/, '')}/pglite`,
    inMemory: opts.inMemory ?? false,
  });
}
