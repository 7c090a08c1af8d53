import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { DATABASE, type Database } from '@switchboard/storage';
import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_KEY,
  TEST_MODELS,
  auth,
  chatBody,
  postJson,
  readSse,
  spawnGateway,
  startHarness,
  waitFor,
  type Harness,
} from './gateway.harness';

interface LedgerRow {
  status: string;
  output_tokens: number;
  input_tokens: number;
  cost_micros: number;
  key_id: string | null;
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

/** An account with a daily budget and a chat key bound to it; returns the key. */
async function keyWithBudget(url: string, account: string): Promise<{ key: string; id: string }> {
  expect((await api(url, 'POST', '/admin/accounts', { id: account, name: account })).status).toBe(
    201,
  );
  expect(
    (await api(url, 'PUT', `/admin/budgets/account/${account}/day`, { limitUsd: 100 })).status,
  ).toBe(200);
  const k = await api(url, 'POST', '/admin/keys', {
    ownerUserId: `${account}-user`,
    accountId: account,
    scopes: ['chat'],
  });
  expect(k.status).toBe(201);
  return { key: k.json.key as string, id: (k.json.record as { id: string }).id };
}

async function heldMicros(url: string, account: string): Promise<number> {
  const r = await api(url, 'GET', `/admin/budgets?scopeType=account&scopeId=${account}`);
  return (r.json.data as Array<{ heldMicros: number }>)[0].heldMicros;
}

describe('usage is recorded when a client disconnects mid-stream', () => {
  let h: Harness;
  beforeAll(async () => (h = await startHarness()));
  afterAll(() => h.close());

  it('writes a cancelled ledger row with the partial tokens and leaves no budget hold', async () => {
    const { key, id } = await keyWithBudget(h.url, 'disc');
    const ac = new AbortController();
    const res = await postJson(
      `${h.url}/chat`,
      chatBody('long\n#sim tokens=1000 tps=100'),
      { authorization: `Bearer ${key}` },
      ac.signal,
    );
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let got = '';
    while ((got.match(/"s":"answer"/g) ?? []).length < 5)
      got += new TextDecoder().decode((await reader.read()).value);
    expect(await heldMicros(h.url, 'disc')).toBeGreaterThan(0);
    ac.abort();
    const db: Database = h.gateway.app.get(DATABASE);
    let row: LedgerRow | undefined;
    await waitFor(
      async () => {
        row = (await db.query<LedgerRow>('SELECT * FROM usage_ledger WHERE key_id = $1', [id]))
          .rows[0];
        return row !== undefined;
      },
      5000,
      50,
    );
    expect(row!.status).toBe('cancelled');
    expect(Number(row!.output_tokens)).toBeGreaterThanOrEqual(5);
    expect(Number(row!.cost_micros)).toBeGreaterThan(0);
    await waitFor(async () => (await heldMicros(h.url, 'disc')) === 0, 10_000, 50);
  });
});

describe('usage is recorded when the gateway is stopped mid-stream (SIGTERM, real process, PostgreSQL)', () => {
  let sim: RunningSimulator;
  let pg: TestPostgres;
  let dir: string;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    pg = await createTestPostgres();
    dir = await mkdtemp(join(tmpdir(), 'sb-sigterm-'));
    await writeFile(join(dir, 'models.json'), JSON.stringify(TEST_MODELS));
  });
  afterAll(async () => {
    await pg.drop();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ends the stream with draining, flushes a cancelled ledger row with partial tokens before exiting 0', async () => {
    const gw = await spawnGateway({
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      SIMULATOR_URL: sim.url,
      MODELS_FILE: join(dir, 'models.json'),
      DATA_DIR: dir,
      DATABASE_URL: pg.url,
      API_KEY_SECRET: 'sigterm-test-api-key-secret-0123456789',
      SHUTDOWN_DRAIN_SECONDS: '1',
      LOG_LEVEL: 'info',
    });
    const { key, id } = await keyWithBudget(gw.url, 'term');
    const res = await postJson(`${gw.url}/chat`, chatBody('long\n#sim tokens=5000 tps=50'), {
      authorization: `Bearer ${key}`,
    });
    const frames: string[] = [];
    const reading = (async () => {
      for await (const f of readSse(res)) if (f.data) frames.push(f.data);
    })();
    // part of the answer has streamed: there are output tokens to record
    await waitFor(() => frames.some((f) => f.startsWith('{"s":"answer"')), 10_000);
    gw.child.kill('SIGTERM');
    await reading;
    expect(frames.join('\n')).toContain('"code":"draining"');
    expect(await gw.exit).toBe(0);
    const rows = (
      await pg.db.query<LedgerRow>('SELECT * FROM usage_ledger WHERE key_id = $1', [id])
    ).rows;
    expect(rows).toHaveLength(1);
    expect(rows[0].status).toBe('cancelled');
    expect(Number(rows[0].output_tokens)).toBeGreaterThan(0);
    // in-process holds die with the process; the ledger is what budgets rebuild from
    const spent = await pg.db.query<{ total: number }>(
      'SELECT coalesce(sum(cost_micros),0)::bigint AS total FROM usage_ledger',
    );
    expect(Number(spent.rows[0].total)).toBe(Number(rows[0].cost_micros));
  }, 40000);
});
