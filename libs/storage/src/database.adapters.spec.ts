import { waitFor } from '@switchboard/common/testing';
import type { Database } from './database.port';
import { createTestPglite, createTestPgliteProcess } from './testing/pglite-template';
import { createTestPostgres, type TestPostgres } from './testing/postgres-test-database';

type Adapter = { name: string; open: () => Promise<{ db: Database; done: () => Promise<void> }> };

const adapters: Adapter[] = [
  {
    name: 'pglite',
    open: async () => {
      const db = await createTestPglite();
      return { db, done: () => db.close() };
    },
  },
  {
    name: 'pglite (own process)',
    open: async () => {
      const t = await createTestPgliteProcess();
      return { db: t.db, done: t.drop };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const t: TestPostgres = await createTestPostgres();
      return { db: t.db, done: () => t.drop() };
    },
  },
];

describe.each(adapters)('$name database adapter', ({ open }) => {
  let db: Database;
  let done: () => Promise<void>;

  beforeAll(async () => {
    ({ db, done } = await open());
    await db.query(
      'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, big bigint, n numeric)',
    );
  });
  afterAll(() => done());

  it('binds $n parameters and reports row counts', async () => {
    const ins = await db.query('INSERT INTO items (name, big) VALUES ($1, $2), ($3, $4)', [
      'a',
      1,
      'b',
      2,
    ]);
    expect(ins.rowCount).toBe(2);
    const r = await db.query<{ name: string }>('SELECT name FROM items WHERE name = $1', ['a']);
    expect(r.rows).toEqual([{ name: 'a' }]);
    expect(r.rowCount).toBe(1);
  });

  it('runs several statements in one call when there are no parameters', async () => {
    const r = await db.query<{ x: number }>(
      'CREATE TEMP TABLE multi (x int); INSERT INTO multi VALUES (7); SELECT x FROM multi',
    );
    expect(r.rows).toEqual([{ x: 7 }]);
  });

  it('returns int8 as a number when safe and as an exact string beyond 2^53', async () => {
    const r = await db.query<{ small: unknown; huge: unknown; num: unknown }>(
      'SELECT 12345678901::bigint AS small, 9223372036854775807::bigint AS huge, 1.5::numeric AS num',
    );
    expect(r.rows[0]).toEqual({ small: 12345678901, huge: '9223372036854775807', num: '1.5' });
  });

  it('returns timestamptz as Date, json as objects and bytea as Buffer', async () => {
    const r = await db.query<{ t: unknown; j: unknown; b: unknown }>(
      `SELECT '2026-01-02T03:04:05.678Z'::timestamptz AS t, '{"a":[1,"x"]}'::jsonb AS j, '\\x0102ff'::bytea AS b`,
    );
    expect(r.rows[0].t).toBeInstanceOf(Date);
    expect(r.rows[0].t).toEqual(new Date('2026-01-02T03:04:05.678Z'));
    expect(r.rows[0].j).toEqual({ a: [1, 'x'] });
    expect(r.rows[0].j).toBeInstanceOf(Object);
    expect(r.rows[0].b).toEqual(Buffer.from([1, 2, 255]));
  });

  it('accepts Date parameters', async () => {
    const d = new Date('2026-05-06T07:08:09.123Z');
    const r = await db.query<{ t: Date; same: boolean }>(
      'SELECT $1::timestamptz AS t, $1::timestamptz = $2 AS same',
      [d, '2026-05-06T07:08:09.123Z'],
    );
    expect(r.rows[0].same).toBe(true);
    expect(r.rows[0].t.getTime()).toBe(d.getTime());
  });

  it('commits a transaction and returns its value', async () => {
    const v = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO items (name) VALUES ($1)', ['committed']);
      return 42;
    });
    expect(v).toBe(42);
    const r = await db.query('SELECT 1 FROM items WHERE name = $1', ['committed']);
    expect(r.rowCount).toBe(1);
  });

  it('rolls back when the callback throws and rethrows the error', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO items (name) VALUES ($1)', ['rolled-back']);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const r = await db.query('SELECT 1 FROM items WHERE name = $1', ['rolled-back']);
    expect(r.rowCount).toBe(0);
  });

  it('rolls back on a SQL error inside the transaction and stays usable', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO items (name) VALUES ($1)', ['half']);
        await tx.query('INSERT INTO items (name) VALUES (NULL)');
      }),
    ).rejects.toThrow();
    expect((await db.query('SELECT 1 FROM items WHERE name = $1', ['half'])).rowCount).toBe(0);
    await expect(db.ping()).resolves.toBeUndefined();
  });
});

const embedded: Adapter[] = adapters.filter((a) => a.name.startsWith('pglite'));

describe.each(embedded)('$name specifics', ({ open }) => {
  let db: Database;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ db, done } = await open());
  });
  afterAll(() => done());

  it('has pgvector', async () => {
    expect(db.hasVector).toBe(true);
    const r = await db.query<{ d: number }>("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector AS d");
    expect(r.rows[0].d).toBe(2);
  });

  it('serialises concurrent transactions: statements of two transactions never interleave', async () => {
    await db.query('CREATE TABLE log (seq serial, tx int, step int)');
    const work = (id: number) =>
      db.transaction(async (tx) => {
        for (let step = 0; step < 3; step++) {
          await tx.query('INSERT INTO log (tx, step) VALUES ($1, $2)', [id, step]);
          await new Promise((r) => setImmediate(r));
        }
      });
    await Promise.all([
      work(1),
      work(2),
      work(3),
      db.query('INSERT INTO log (tx, step) VALUES (99, 0)'),
    ]);
    const r = await db.query<{ tx: number; step: number }>('SELECT tx, step FROM log ORDER BY seq');
    const txs = r.rows.map((row) => row.tx);
    // each transaction's three rows are contiguous
    for (const id of [1, 2, 3]) {
      const first = txs.indexOf(id);
      expect(txs.slice(first, first + 3)).toEqual([id, id, id]);
    }
    expect(r.rows).toHaveLength(10);
  });

  it('delivers NOTIFY to listeners once the transaction commits, never on rollback, and stops on unlisten', async () => {
    const first: string[] = [];
    const second: string[] = [];
    const stopFirst = await db.listen('test_jobs', (p) => first.push(p));
    const stopSecond = await db.listen('test_jobs', (p) => second.push(p));
    try {
      await db.transaction(async (tx) => {
        await tx.query("SELECT pg_notify('test_jobs', 'a')");
        // not delivered before the commit
        expect(first).toEqual([]);
      });
      await expect(
        db.transaction(async (tx) => {
          await tx.query("SELECT pg_notify('test_jobs', 'rolled-back')");
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      await db.query("SELECT pg_notify('test_jobs', 'b')");
      // notifications arrive on another connection, asynchronously
      await waitFor(() => first.includes('b'), { timeoutMs: 10_000, what: 'notification b' });
      // notifications arrive in commit order, so 'rolled-back' would have come first
      expect(first).toEqual(['a', 'b']);

      await stopFirst();
      await db.query("SELECT pg_notify('test_jobs', 'c')");
      await waitFor(() => second.includes('c'), { timeoutMs: 10_000, what: 'notification c' });
      expect(first).toEqual(['a', 'b']);
    } finally {
      await stopSecond();
    }
  });

  it('refuses a notification channel that is not a plain identifier', async () => {
    await expect(db.listen('jobs; DROP TABLE items', () => undefined)).rejects.toThrow(
      'invalid notification channel',
    );
    await expect(db.listen('Jobs', () => undefined)).rejects.toThrow(
      'invalid notification channel',
    );
  });
});

describe('postgres specifics', () => {
  let t: TestPostgres;
  beforeAll(async () => {
    t = await createTestPostgres();
  });
  afterAll(() => t.drop());

  it('reports hasVector exactly when pg_extension lists vector', async () => {
    const r = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'",
    );
    expect(t.db.hasVector).toBe(r.rows[0].n > 0);
  });

  it('runs transactions concurrently on separate connections', async () => {
    await t.db.query(
      'CREATE TABLE counter (id int PRIMARY KEY, v int NOT NULL); INSERT INTO counter VALUES (1, 0)',
    );
    await Promise.all(
      Array.from({ length: 10 }, () =>
        t.db.transaction(async (tx) => {
          const r = await tx.query<{ v: number }>(
            'SELECT v FROM counter WHERE id = 1 FOR UPDATE',
            [],
          );
          await tx.query('UPDATE counter SET v = $1 WHERE id = 1', [r.rows[0].v + 1]);
        }),
      ),
    );
    const r = await t.db.query<{ v: number }>('SELECT v FROM counter');
    expect(r.rows[0].v).toBe(10);
  });
});
