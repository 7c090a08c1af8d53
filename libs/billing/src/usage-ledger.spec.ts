import { waitFor } from '@switchboard/common/testing';
import { Migrator, type Database, type Queryable } from '@switchboard/storage';
import { createTestPglite, createTestPostgres } from '@switchboard/storage/testing';
import { billingMigrations } from './billing.migrations';
import type { UsageRow } from './billing.types';
import { BudgetRepository } from './budget.repository';
import { UsageLedger } from './usage-ledger.service';
import { toCsv, UsageReports } from './usage-reports.service';

const adapters = [
  {
    name: 'pglite',
    open: async () => {
      const db = await createTestPglite();
      return { db: db as Database, done: () => db.close() };
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const t = await createTestPostgres();
      return { db: t.db as Database, done: () => t.drop() };
    },
  },
];

let seq = 0;
function row(over: Partial<UsageRow> = {}): UsageRow {
  seq++;
  return {
    requestId: `req-${seq}`,
    attempt: 0,
    userId: 'alice',
    accountId: 'acct-1',
    keyId: null,
    model: 'gpt-test',
    provider: 'openai',
    inputTokens: 100,
    cachedInputTokens: 20,
    outputTokens: 50,
    reasoningTokens: 10,
    costMicros: 1_000,
    status: 'complete',
    ttftMs: 120,
    durationMs: 900,
    createdAt: new Date('2026-03-01T10:00:00Z'),
    ...over,
  };
}

async function countRows(db: Queryable, where = 'TRUE', params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM usage_ledger WHERE ${where}`,
    params,
  );
  return r.rows[0].n;
}

/** a Queryable whose first `failures` calls reject */
function flaky(db: Queryable, failures: number): Queryable & { calls: number } {
  const f = {
    calls: 0,
    query: <T>(sql: string, params?: unknown[]) => {
      f.calls++;
      if (f.calls <= failures) return Promise.reject(new Error('connection refused'));
      return db.query<T>(sql, params);
    },
  };
  return f;
}

describe.each(adapters)('usage ledger on $name', ({ open }) => {
  let db: Database;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ db, done } = await open());
    await new Migrator(db).migrate(billingMigrations);
  });
  afterAll(() => done());
  beforeEach(() => db.query('DELETE FROM usage_ledger'));

  it('writes every field of a recorded row', async () => {
    const ledger = new UsageLedger(db);
    const r = row({
      parentRequestId: 'parent-1',
      clientRequestId: 'client-chosen-1',
      keyId: 'key-1',
      status: 'error',
      errorCode: 'upstream_timeout',
    });
    ledger.record(r);
    expect(ledger.pending).toBe(1);
    await ledger.flush();
    const got = await db.query('SELECT * FROM usage_ledger WHERE request_id = $1', [r.requestId]);
    expect(got.rows[0]).toEqual({
      request_id: r.requestId,
      attempt: 0,
      parent_request_id: 'parent-1',
      user_id: 'alice',
      account_id: 'acct-1',
      key_id: 'key-1',
      model: 'gpt-test',
      provider: 'openai',
      input_tokens: 100,
      cached_input_tokens: 20,
      output_tokens: 50,
      reasoning_tokens: 10,
      cost_micros: 1_000,
      status: 'error',
      error_code: 'upstream_timeout',
      ttft_ms: 120,
      duration_ms: 900,
      created_at: new Date('2026-03-01T10:00:00Z'),
      client_request_id: 'client-chosen-1',
    });
  });

  it('writes texts with array-literal syntax in them verbatim, next to nulls, in one batch', async () => {
    const ledger = new UsageLedger(db);
    const odd = ['NULL', '', 'a,b', '{x}', 'say "hi"', 'back\\slash', ' pad ', 'ünï 😀', 'null'];
    const rows = odd.map((text, i) =>
      row({
        userId: text || 'empty', // a user id is never empty
        accountId: i % 2 ? null : text,
        keyId: i % 3 ? text : null,
        clientRequestId: text,
        errorCode: i % 2 ? text : null,
        ttftMs: i % 2 ? null : i,
      }),
    );
    for (const r of rows) ledger.record(r);
    await ledger.flush();
    for (const [i, r] of rows.entries()) {
      const got = await db.query('SELECT * FROM usage_ledger WHERE request_id = $1', [r.requestId]);
      expect(got.rows[0]).toMatchObject({
        user_id: odd[i] || 'empty',
        account_id: i % 2 ? null : odd[i],
        key_id: i % 3 ? odd[i] : null,
        client_request_id: odd[i],
        error_code: i % 2 ? odd[i] : null,
        ttft_ms: i % 2 ? null : i,
        created_at: new Date('2026-03-01T10:00:00Z'),
      });
    }
  });

  it('writes a (request_id, attempt) exactly once: recorded twice, two ledgers, concurrent flushes', async () => {
    const a = new UsageLedger(db);
    const b = new UsageLedger(db);
    const r = row({ requestId: 'dup', attempt: 1 });
    a.record(r);
    a.record({ ...r, costMicros: 999_999 });
    b.record(r);
    a.record(row({ requestId: 'dup', attempt: 2 }));
    await Promise.all([a.flush(), a.flush(), b.flush()]);
    a.record(r); // after it was written: the database rejects it silently
    await a.flush();
    expect(await countRows(db, 'request_id = $1 AND attempt = 1', ['dup'])).toBe(1);
    expect(await countRows(db, 'request_id = $1', ['dup'])).toBe(2);
    const cost = await db.query<{ c: number }>(
      "SELECT cost_micros AS c FROM usage_ledger WHERE request_id = 'dup' AND attempt = 1",
    );
    expect(cost.rows[0].c).toBe(1_000);
  });

  it('flushes a full batch by itself, without waiting for the interval', async () => {
    // an interval no test outlives: only the full batch can trigger this write
    const ledger = new UsageLedger(db, { batchSize: 5, flushIntervalMs: 3_600_000 });
    for (let i = 0; i < 5; i++) ledger.record(row());
    await waitFor(async () => (await countRows(db)) === 5, { what: 'the full batch written' });
    ledger.record(row());
    expect(await countRows(db)).toBe(5);
    await ledger.flush({ timeoutMs: 5_000 });
    expect(await countRows(db)).toBe(6);
    ledger.close();
  });

  it('flushes a partial batch after the interval', async () => {
    const ledger = new UsageLedger(db, { batchSize: 1000, flushIntervalMs: 30 });
    ledger.record(row());
    expect(await countRows(db)).toBe(0);
    await waitFor(async () => (await countRows(db)) === 1, { what: 'the partial batch written' });
    ledger.close();
  });

  it('keeps rows through failed flushes and writes them when the database is back', async () => {
    const q = flaky(db, 2);
    const ledger = new UsageLedger(q, { batchSize: 3, retryDelayMs: 5 });
    for (let i = 0; i < 7; i++) ledger.record(row());
    await ledger.flush({ timeoutMs: 5_000 });
    expect(ledger.pending).toBe(0);
    expect(await countRows(db)).toBe(7);
    expect(q.calls).toBeGreaterThanOrEqual(2 + 3);
  });

  it('never throws from record and drops the oldest rows (loudly) beyond the buffer bound', async () => {
    const errors: string[] = [];
    const down: Queryable = { query: () => Promise.reject(new Error('down')) };
    const ledger = new UsageLedger(down, {
      maxBufferedRows: 3,
      flushIntervalMs: 60_000,
      logger: { log: () => undefined, warn: () => undefined, error: (m) => errors.push(m) },
    });
    for (let i = 0; i < 5; i++) expect(() => ledger.record(row())).not.toThrow();
    expect(() => ledger.record(null as unknown as UsageRow)).not.toThrow();
    expect(ledger.pending).toBe(3);
    expect(ledger.droppedRows).toBe(2);
    expect(errors.some((e) => e.includes('dropped'))).toBe(true);
    await ledger.flush({ timeoutMs: 30 });
    expect(ledger.pending).toBe(3);
    expect(errors.some((e) => e.includes('gave up with 3 rows'))).toBe(true);
    ledger.close();
  });

  it('drops (and logs) a row the database rejects without blocking the rows around it', async () => {
    const errors: string[] = [];
    const ledger = new UsageLedger(db, {
      logger: { log: () => undefined, warn: () => undefined, error: (m) => errors.push(m) },
    });
    ledger.record(row({ requestId: 'good-1' }));
    ledger.record(row({ requestId: 'poison', attempt: 2 ** 31 })); // out of integer range
    ledger.record(row({ requestId: 'good-2' }));
    ledger.record(row({ requestId: 'no-user', userId: '' }));
    await ledger.flush({ timeoutMs: 2_000 });
    expect(ledger.pending).toBe(0);
    const r = await db.query<{ request_id: string }>(
      'SELECT request_id FROM usage_ledger ORDER BY request_id',
    );
    expect(r.rows.map((x) => x.request_id)).toEqual(['good-1', 'good-2']);
    expect(errors.filter((e) => e.includes('poison'))).toHaveLength(1);
    expect(errors.filter((e) => e.includes('userId missing'))).toHaveLength(1);
  });

  it('bounds flush by its timeout even when the database hangs', async () => {
    const hung: Queryable = { query: () => new Promise(() => undefined) };
    const errors: string[] = [];
    const ledger = new UsageLedger(hung, {
      logger: { log: () => undefined, warn: () => undefined, error: (m) => errors.push(m) },
    });
    ledger.record(row());
    const started = Date.now();
    await ledger.flush({ timeoutMs: 50 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors.some((e) => e.includes('gave up'))).toBe(true);
    ledger.close();
  });

  it('sums cost per scope since a time (spentSince)', async () => {
    const ledger = new UsageLedger(db);
    ledger.record(
      row({
        userId: 'u1',
        keyId: 'k1',
        costMicros: 10,
        createdAt: new Date('2026-03-01T00:00:00Z'),
      }),
    );
    ledger.record(
      row({
        userId: 'u1',
        keyId: 'k2',
        costMicros: 20,
        createdAt: new Date('2026-03-02T00:00:00Z'),
      }),
    );
    ledger.record(
      row({
        userId: 'u2',
        keyId: 'k1',
        costMicros: 40,
        createdAt: new Date('2026-03-03T00:00:00Z'),
      }),
    );
    await ledger.flush();
    const since = new Date('2026-03-02T00:00:00Z');
    expect(await ledger.spentSince('user', 'u1', since)).toBe(20);
    expect(await ledger.spentSince('user', 'u1', new Date(0))).toBe(30);
    expect(await ledger.spentSince('key', 'k1', new Date(0))).toBe(50);
    expect(await ledger.spentSince('account', 'acct-1', since)).toBe(60);
    expect(await ledger.spentSince('account', 'nobody', since)).toBe(0);
  });

  describe('reports', () => {
    const from = new Date('2026-04-01T00:00:00Z');
    const to = new Date('2026-04-03T00:00:00Z');
    beforeEach(async () => {
      const ledger = new UsageLedger(db);
      const at = (iso: string) => new Date(iso);
      ledger.record(
        row({
          userId: 'alice',
          model: 'm1',
          keyId: 'k1',
          costMicros: 100,
          createdAt: at('2026-04-01T01:00:00Z'),
        }),
      );
      ledger.record(
        row({
          userId: 'alice',
          model: 'm2',
          keyId: 'k1',
          costMicros: 200,
          createdAt: at('2026-04-01T23:59:59Z'),
        }),
      );
      ledger.record(
        row({
          userId: 'alice',
          model: 'm1',
          keyId: null,
          costMicros: 300,
          createdAt: at('2026-04-02T12:00:00Z'),
        }),
      );
      ledger.record(
        row({
          userId: 'bob',
          accountId: 'acct-2',
          model: 'm1',
          costMicros: 400,
          createdAt: at('2026-04-02T13:00:00Z'),
        }),
      );
      // outside the range (to is exclusive)
      ledger.record(
        row({ userId: 'alice', costMicros: 5_000, createdAt: at('2026-04-03T00:00:00Z') }),
      );
      ledger.record(
        row({ userId: 'alice', costMicros: 5_000, createdAt: at('2026-03-31T23:59:59Z') }),
      );
      await ledger.flush();
    });

    it('totals everything in [from, to) without grouping', async () => {
      const rows = await new UsageReports(db).query({ from, to, groupBy: [] });
      expect(rows).toEqual([
        {
          requests: 4,
          inputTokens: 400,
          cachedInputTokens: 80,
          outputTokens: 200,
          reasoningTokens: 40,
          costMicros: 1_000,
        },
      ]);
    });

    it('groups by user and UTC day', async () => {
      const rows = await new UsageReports(db).query({ from, to, groupBy: ['day', 'user'] });
      expect(rows.map((r) => [r.day, r.userId, r.requests, r.costMicros])).toEqual([
        ['2026-04-01', 'alice', 2, 300],
        ['2026-04-02', 'alice', 1, 300],
        ['2026-04-02', 'bob', 1, 400],
      ]);
    });

    it('groups by account, key and model', async () => {
      const reports = new UsageReports(db);
      const byAccount = await reports.query({ from, to, groupBy: ['account'] });
      expect(byAccount.map((r) => [r.accountId, r.costMicros])).toEqual([
        ['acct-1', 600],
        ['acct-2', 400],
      ]);
      const byKeyModel = await reports.query({ from, to, groupBy: ['key', 'model'] });
      expect(byKeyModel.map((r) => [r.keyId, r.model, r.costMicros])).toEqual([
        [null, 'm1', 700],
        ['k1', 'm1', 100],
        ['k1', 'm2', 200],
      ]);
    });

    it("restricts to one user's usage with userId", async () => {
      const rows = await new UsageReports(db).query({ from, to, groupBy: ['user'], userId: 'bob' });
      expect(rows.map((r) => [r.userId, r.costMicros])).toEqual([['bob', 400]]);
      const none = await new UsageReports(db).query({
        from,
        to,
        groupBy: ['user'],
        userId: 'mallory',
      });
      expect(none).toEqual([]);
    });

    it('rejects unknown groups and inverted ranges', async () => {
      const reports = new UsageReports(db);
      await expect(
        reports.query({ from, to, groupBy: ['user; DROP TABLE usage_ledger' as never] }),
      ).rejects.toThrow('cannot group by');
      await expect(reports.query({ from: to, to: from, groupBy: [] })).rejects.toThrow(
        'to is before from',
      );
    });
  });
});

describe.each(adapters)('budget repository on $name', ({ open }) => {
  let db: Database;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ db, done } = await open());
    await new Migrator(db).migrate(billingMigrations);
  });
  afterAll(() => done());

  it("upserts one limit per scope and period and returns the limits of a request's scopes", async () => {
    const repo = new BudgetRepository(db);
    await repo.set({ scopeType: 'user', scopeId: 'u1', period: 'day', limitMicros: 5 });
    await repo.set({ scopeType: 'user', scopeId: 'u1', period: 'day', limitMicros: 1_000_000 });
    await repo.set({ scopeType: 'user', scopeId: 'u1', period: 'hour', limitMicros: 100_000 });
    await repo.set({
      scopeType: 'account',
      scopeId: 'a1',
      period: 'month',
      limitMicros: 50_000_000,
    });
    await repo.set({ scopeType: 'key', scopeId: 'other', period: 'total', limitMicros: 1 });
    expect(await repo.list('user', 'u1')).toEqual([
      { scopeType: 'user', scopeId: 'u1', period: 'day', limitMicros: 1_000_000 },
      { scopeType: 'user', scopeId: 'u1', period: 'hour', limitMicros: 100_000 },
    ]);
    expect(
      await repo.scopesFor([
        { type: 'user', id: 'u1' },
        { type: 'account', id: 'a1' },
        { type: 'key', id: 'k1' },
      ]),
    ).toEqual([
      {
        type: 'user',
        id: 'u1',
        limits: [
          { period: 'hour', limitMicros: 100_000 },
          { period: 'day', limitMicros: 1_000_000 },
        ],
      },
      { type: 'account', id: 'a1', limits: [{ period: 'month', limitMicros: 50_000_000 }] },
      { type: 'key', id: 'k1', limits: [] },
    ]);
    expect(await repo.remove('user', 'u1', 'hour')).toBe(true);
    expect(await repo.remove('user', 'u1', 'hour')).toBe(false);
    await expect(
      repo.set({ scopeType: 'team' as never, scopeId: 'x', period: 'day', limitMicros: 1 }),
    ).rejects.toThrow(RangeError);
  });
});

describe('toCsv', () => {
  it('writes RFC 4180 CSV: header, CRLF, quoted fields with comma, quote or newline', () => {
    const csv = toCsv(
      [
        {
          userId: 'a,b',
          model: 'say "hi"',
          requests: 1,
          inputTokens: 2,
          cachedInputTokens: 0,
          outputTokens: 3,
          reasoningTokens: 0,
          costMicros: 4,
        },
        {
          userId: 'line\nbreak',
          model: 'plain',
          requests: 5,
          inputTokens: 6,
          cachedInputTokens: 1,
          outputTokens: 7,
          reasoningTokens: 2,
          costMicros: 8,
        },
      ],
      ['user', 'model'],
    );
    expect(csv).toBe(
      'user_id,model,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros\r\n' +
        '"a,b","say ""hi""",1,2,0,3,0,4\r\n' +
        '"line\nbreak",plain,5,6,1,7,2,8\r\n',
    );
  });

  it('writes empty cells for null groups and keeps the header for an empty report', () => {
    expect(toCsv([], ['key'])).toBe(
      'key_id,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros\r\n',
    );
    expect(
      toCsv([
        {
          keyId: null,
          requests: 1,
          inputTokens: 0,
          cachedInputTokens: 0,
          outputTokens: 0,
          reasoningTokens: 0,
          costMicros: 0,
        },
      ]),
    ).toBe(
      'key_id,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,cost_micros\r\n,1,0,0,0,0,0\r\n',
    );
  });
});
