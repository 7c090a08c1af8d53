/**
 * A throwaway PostgreSQL database for the scale-out gateway of a run: created
 * on the local server (trust auth) and dropped at the end, so runs never see
 * each other's keys, budgets or ledger rows.
 */
import pg from 'pg';

const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function admin(sql) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates `switchboard_bench_<pid>_<time>`; resolves `{ name, url, drop() }`. */
export async function createBenchDatabase() {
  const name = `switchboard_bench_${process.pid}_${Date.now()}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE (PostgreSQL 13+) ends connections a killed gateway may have left behind.
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
