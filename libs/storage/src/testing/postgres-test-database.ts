import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { PostgresDatabase } from '../postgres.database';

export const TEST_POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestPostgres {
  url: string;
  /** the database's name (e.g. to find its sessions in pg_stat_activity) */
  database: string;
  db: PostgresDatabase;
  /** closes `db` and drops the database (other pools on `url` must be closed first or get cut) */
  drop(): Promise<void>;
}

/**
 * A throwaway database `sb_<random>` on the shared test server, so concurrent
 * test files never see each other's tables.
 */
export async function createTestPostgres(
  opts: { poolSize?: number; idleTimeoutMs?: number } = {},
): Promise<TestPostgres> {
  const name = `sb_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const db = await PostgresDatabase.connect({
    url: url.toString(),
    poolSize: opts.poolSize ?? 4,
    idleTimeoutMs: opts.idleTimeoutMs,
  });
  return {
    url: url.toString(),
    database: name,
    db,
    drop: async () => {
      await db.close();
      const c = new Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
