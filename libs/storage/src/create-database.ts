import type { Database } from './database.port';
import { PgliteDatabase } from './pglite.database';
import { PgliteProcessDatabase } from './pglite-process.database';
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
  /** ms before an idle pooled PostgreSQL connection is closed (default 30 s) */
  idleTimeoutMs?: number;
  logger?: StorageLogger;
}

/**
 * Picks the adapter: PostgreSQL when a URL is given, otherwise embedded PGlite:
 * in its own process on disk, in this process when kept in memory.
 */
export async function createDatabase(opts: CreateDatabaseOptions): Promise<Database> {
  if (opts.url) {
    return PostgresDatabase.connect({
      url: opts.url,
      poolSize: opts.poolSize,
      idleTimeoutMs: opts.idleTimeoutMs,
      logger: opts.logger,
    });
  }
  // The production image leaves the embedded database out (see Dockerfile).
  try {
    require.resolve('@electric-sql/pglite');
  } catch {
    throw new Error(
      'DATABASE_URL is not set and this build has no embedded database (@electric-sql/pglite): set DATABASE_URL',
    );
  }
  if (opts.inMemory) return PgliteDatabase.create({ inMemory: true });
  // on disk, the engine runs in a process of its own: off the event loop, and a
  // crash of it is a restart of the database, not of the gateway
  return PgliteProcessDatabase.create({ dataDir: embeddedDir(opts.dataDir), logger: opts.logger });
}

/**
 * What `createDatabase` will open, started now when it is the embedded database
 * on disk: the engine loads while the gateway's modules do (boot time).
 */
export function prestartDatabase(
  opts: Pick<CreateDatabaseOptions, 'url' | 'dataDir' | 'inMemory'>,
): void {
  if (opts.url || opts.inMemory) return;
  try {
    require.resolve('@electric-sql/pglite');
  } catch {
    return;
  }
  PgliteProcessDatabase.prestart({ dataDir: embeddedDir(opts.dataDir) });
}

function embeddedDir(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}/pglite`;
}
