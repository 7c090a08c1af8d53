import type { Database, Migration } from './database.port';
import { Migrator, MigrationError } from './migrator';
import { PostgresDatabase } from './postgres.database';
import { createTestPglite } from './testing/pglite-template';
import { createTestPostgres, type TestPostgres } from './testing/postgres-test-database';

// Not idempotent on purpose: running any of these twice fails or double counts.
const migrations: Migration[] = [
  { id: '0002_test_insert', up: "INSERT INTO runs (id) VALUES ('0002')" },
  {
    id: '0001_test_create',
    up: 'CREATE TABLE runs (id text PRIMARY KEY); CREATE TABLE things (n int)',
  },
  { id: '0003_test_vector', up: 'CREATE TABLE embeddings (v vector(3))', requiresVector: true },
];

/** the same database seen without pgvector */
function withoutVector(db: Database): Database {
  return {
    kind: db.kind,
    hasVector: false,
    query: (sql, params) => db.query(sql, params),
    transaction: (fn) => db.transaction(fn),
    ping: () => db.ping(),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    connectionState: () => db.connectionState(),
    close: () => db.close(),
  };
}

describe('Migrator on PGlite', () => {
  let db: Database;
  beforeAll(async () => {
    db = await createTestPglite();
  });
  afterAll(() => db.close());

  it('skips vector migrations without pgvector, records them, and applies them once it appears', async () => {
    const first = await new Migrator(withoutVector(db)).migrate(migrations);
    expect(first).toEqual({
      applied: ['0001_test_create', '0002_test_insert'],
      skipped: ['0003_test_vector'],
    });
    const status = await new Migrator(db).status();
    expect(status.get('0003_test_vector')).toBe('skipped');

    const again = await new Migrator(withoutVector(db)).migrate(migrations);
    expect(again).toEqual({ applied: [], skipped: ['0003_test_vector'] });

    const withVector = await new Migrator(db).migrate(migrations);
    expect(withVector).toEqual({ applied: ['0003_test_vector'], skipped: [] });
    expect((await new Migrator(db).status()).get('0003_test_vector')).toBe('applied');
    await db.query("INSERT INTO embeddings VALUES ('[1,2,3]')");

    const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
    expect(r.rows[0].n).toBe(1);
  });

  it('rolls back the whole run when a migration fails and names it', async () => {
    const bad: Migration[] = [
      { id: '0010_test_ok', up: 'CREATE TABLE ok_table (x int)' },
      { id: '0011_test_bad', up: 'CREATE TABLE nope (x no_such_type)' },
    ];
    const err: unknown = await new Migrator(db).migrate(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).migrationId).toBe('0011_test_bad');
    const t = await db.query<{ t: string | null }>("SELECT to_regclass('ok_table')::text AS t");
    expect(t.rows[0].t).toBeNull();
    expect((await new Migrator(db).status()).has('0010_test_ok')).toBe(false);
  });

  it('rejects duplicate ids', async () => {
    await expect(
      new Migrator(db).migrate([
        { id: '0020_x', up: 'SELECT 1' },
        { id: '0020_x', up: 'SELECT 2' },
      ]),
    ).rejects.toThrow('duplicate migration id 0020_x');
  });
});

describe('Migrator on PostgreSQL', () => {
  let t: TestPostgres;
  beforeAll(async () => {
    t = await createTestPostgres();
  });
  afterAll(() => t.drop());

  it('3 replicas migrating the same database at once apply each migration exactly once', async () => {
    const replicas = await Promise.all(
      [1, 2, 3].map(() => PostgresDatabase.connect({ url: t.url, poolSize: 2 })),
    );
    try {
      const counting: Migration[] = [
        ...migrations.filter((m) => !m.requiresVector),
        { id: '0004_test_count', up: 'INSERT INTO things VALUES (1)' },
        {
          id: '0003_test_vector',
          up: 'CREATE TABLE embeddings (v vector(3))',
          requiresVector: true,
        },
      ];
      const reports = await Promise.all(replicas.map((db) => new Migrator(db).migrate(counting)));
      const applied = reports.flatMap((r) => r.applied).sort();
      expect(applied).toEqual(['0001_test_create', '0002_test_insert', '0004_test_count']);
      const things = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM things');
      expect(things.rows[0].n).toBe(1);
      const status = await new Migrator(t.db).status();
      expect(status.get('0003_test_vector')).toBe(t.db.hasVector ? 'applied' : 'skipped');
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });
});
