import { waitFor } from '@switchboard/common/testing';
import { Client } from 'pg';
import { PostgresDatabase, isConnectionError } from './postgres.database';
import {
  createTestPostgres,
  TEST_POSTGRES_URL,
  type TestPostgres,
} from './testing/postgres-test-database';


describe('PostgresDatabase connection state and idle pool (real PostgreSQL)', () => {
  let pg: TestPostgres;
  let admin: Client;
  let db: PostgresDatabase;
  const app = `sb-idle-${process.pid}-${Date.now()}`;
  let now = 1_000;

  const backends = async () =>
    (
      await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [app],
      )
    ).rows[0].n;

  beforeAll(async () => {
    pg = await createTestPostgres();
    admin = new Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    const url = new URL(pg.url);
    url.searchParams.set('application_name', app);
    db = await PostgresDatabase.connect({
      url: url.toString(),
      idleTimeoutMs: 200,
      clock: () => now,
    });
  });

  afterAll(async () => {
    await db.close();
    await admin.end();
    await pg.drop();
  });

  it('closes idle connections, so a serverless database can pause', async () => {
    await db.query('SELECT 1');
    expect(await backends()).toBeGreaterThan(0);
    await waitFor(async () => (await backends()) === 0, { timeoutMs: 10_000 });
    // and reading the state afterwards opens nothing
    expect(db.connectionState().up).toBe(true);
    expect(await backends()).toBe(0);
  });

  it('reports a lost connection as down and the next successful round trip as up', async () => {
    // The server ends the session mid-query (a failover, a restart).
    now = 3_000;
    const failing = db.query('SELECT pg_sleep(5)');
    await waitFor(async () => (await backends()) > 0, { timeoutMs: 10_000 });
    await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
      [app],
    );
    await expect(failing).rejects.toThrow();
    expect(db.connectionState()).toMatchObject({ up: false, lastFailureAt: 3_000 });
    now = 4_000;
    await db.query('SELECT 1');
    expect(db.connectionState()).toMatchObject({ up: true, lastOkAt: 4_000, lastFailureAt: 3_000 });
  });

  it('an SQL error means the server answered: still up', async () => {
    now = 5_000;
    await expect(db.query('SELECT * FROM no_such_table')).rejects.toThrow(/no_such_table/);
    expect(db.connectionState()).toMatchObject({ up: true, lastOkAt: 5_000 });
  });

  it.each([
    [{ code: '08006' }, true],
    [{ code: '57P01' }, true],
    [{ code: '53300' }, true],
    [{ code: '42P01' }, false],
    [{ code: '23505' }, false],
    [{ code: 'ECONNREFUSED' }, true],
    [new Error('Connection terminated unexpectedly'), true],
  ])('isConnectionError(%o) is %s', (err, expected) => {
    expect(isConnectionError(err)).toBe(expected);
  });
});
