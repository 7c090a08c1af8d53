import {
  AccountService,
  ApiKeyService,
  SqlAccountRepository,
  SqlApiKeyRepository,
} from '@switchboard/auth';
import { BudgetRepository } from '@switchboard/billing';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_KEY,
  TEST_MODELS,
  auth,
  postJson,
  readSse,
  spawnGateway,
  waitFor,
} from './gateway.harness';

const SECRET = 'multi-replica-api-key-secret-0123456789';

/** $1,000 per million input tokens, $2,000 per million output: budgets bite fast. */
const MODELS = {
  models: [
    ...TEST_MODELS.models,
    {
      id: 'pricey',
      provider: 'openai',
      upstreamModel: 'pricey-upstream',
      contextWindow: 16000,
      maxOutputTokens: 100,
      pricing: { input: 1000, cachedInput: 500, output: 2000, checked: '2025-10-01' },
      capabilities: ['chat', 'streaming'],
    },
  ],
};

/**
 * Three gateway processes sharing the real PostgreSQL and Redis of this machine:
 * limits, budgets and the kill switch must hold across replicas, exactly.
 */
describe('three replicas sharing PostgreSQL and Redis', () => {
  let sim: RunningSimulator;
  let pg: TestPostgres;
  let dir: string;
  let replicas: Array<{ child: ChildProcess; url: string; exit: Promise<number | null> }>;
  let apiKeys: ApiKeyService;
  let accounts: AccountService;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    pg = await createTestPostgres();
    dir = await mkdtemp(join(tmpdir(), 'sb-multi-'));
    await writeFile(join(dir, 'models.json'), JSON.stringify(MODELS));
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      SIMULATOR_URL: sim.url,
      MODELS_FILE: join(dir, 'models.json'),
      DATABASE_URL: pg.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      API_KEY_SECRET: SECRET,
      // a limit check that times out is admitted by the fail-open policy, past the limit; the
      // Redis server this machine shares can take longer than the 500 ms default under load
      RATE_LIMIT_REDIS_TIMEOUT_MS: '30000',
      // the harness reads the URL from the info-level ready line
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_SECONDS: '2',
      // these cases are about admission across replicas, not upstream failure handling: a
      // connection the loaded simulator (in this test process) drops is retried, and a few
      // such drops must not open the breaker and fail every later admitted request
      UPSTREAM_MAX_RETRIES: '5',
      BREAKER_FAILURE_THRESHOLD: '1000',
    };
    // the first boot migrates; the others start at once and must not trip over it
    replicas = await Promise.all(
      [0, 1, 2].map((i) => spawnGateway({ ...env, DATA_DIR: join(dir, `r${i}`) })),
    );
    apiKeys = new ApiKeyService(new SqlApiKeyRepository(pg.db), {
      secret: SECRET,
      lastUsedFlushMs: 0,
    });
    accounts = new AccountService(new SqlAccountRepository(pg.db));
  }, 120_000); // three child processes compile and boot at once

  afterAll(async () => {
    for (const r of replicas ?? []) r.child.kill('SIGTERM');
    await Promise.all((replicas ?? []).map((r) => r.exit));
    await apiKeys?.close();
    await pg?.drop();
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  const body = (model: string, text: string) => ({
    model,
    messages: [{ role: 'user', content: text }],
  });

  it('200 concurrent requests against one key limited to 50/min: exactly 50 admitted', async () => {
    const account = await accounts.create({ name: 'rpm' });
    const { key } = await apiKeys.create({
      ownerUserId: 'rpm-user',
      accountId: account.id,
      scopes: ['chat'],
      name: 'rpm',
      limits: { requestsPerMinute: 50, concurrentStreams: 1000, tokensPerMinute: 100_000_000 },
    });
    const headers = { authorization: `Bearer ${key}` };
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postJson(
          `${replicas[i % 3].url}/v1/chat/completions`,
          body('sim-gpt', 'hi\n#sim tokens=2'),
          headers,
        ).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { error?: { code: string; message?: string } },
        })),
      ),
    );
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429);
    // anything else is named, so a failure says what the replicas answered
    expect(
      results
        .filter((r) => r.status !== 200 && r.status !== 429)
        .map((r) => `${r.status} ${r.body.error?.code ?? ''}: ${r.body.error?.message ?? ''}`),
    ).toEqual([]);
    expect(ok).toBe(50);
    expect(limited).toHaveLength(150);
    expect(limited.every((r) => r.body.error?.code === 'rate_limited')).toBe(true);
  }, 60_000);

  it('a $1.00 daily budget under concurrent load across replicas is never exceeded', async () => {
    const account = await accounts.create({ name: 'budget' });
    const { key } = await apiKeys.create({
      ownerUserId: 'budget-user',
      accountId: account.id,
      scopes: ['chat'],
      name: 'budget',
      limits: { requestsPerMinute: 100_000, concurrentStreams: 1000, tokensPerMinute: 100_000_000 },
    });
    await new BudgetRepository(pg.db).set({
      scopeType: 'account',
      scopeId: account.id,
      period: 'day',
      limitMicros: 1_000_000,
    });
    const headers = { authorization: `Bearer ${key}` };
    // each hold is ~$0.21 (prompt + 100 output tokens); each actual call ~$0.03
    const statuses: number[] = [];
    for (let wave = 0; wave < 6; wave++) {
      const rs = await Promise.all(
        Array.from({ length: 15 }, (_, i) =>
          postJson(
            `${replicas[i % 3].url}/v1/chat/completions`,
            body('pricey', 'hi\n#sim tokens=5'),
            headers,
          ).then((r) => {
            void r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      statuses.push(...rs);
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 402).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 402)).toBe(true);
    // ledger writes are batched: wait for them, then add up what was recorded
    let spent = 0;
    const ok = statuses.filter((s) => s === 200).length;
    await waitFor(
      async () => {
        const r = await pg.db.query<{ n: number; total: number }>(
          'SELECT count(*)::int AS n, coalesce(sum(cost_micros), 0)::bigint AS total FROM usage_ledger WHERE account_id = $1',
          [account.id],
        );
        spent = Number(r.rows[0].total);
        return r.rows[0].n >= ok;
      },
      10_000,
      100,
    );
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(1_000_000);
  }, 60_000);

  it('a kill switch sent to replica 1 cancels a stream running on replica 3', async () => {
    const res = await postJson(`${replicas[2].url}/chat`, {
      messages: [{ role: 'user', content: 'long\n#sim tokens=2000 tps=50' }],
      options: { model: { id: 'sim-gpt' }, requestId: 'multi-kill-1' },
    });
    expect(res.status).toBe(200);
    const frames: Array<Record<string, unknown>> = [];
    const done = (async () => {
      for await (const f of readSse(res))
        if (f.data) frames.push(JSON.parse(f.data) as Record<string, unknown>);
    })();
    await waitFor(() => frames.length > 2, 5000);
    const k = await postJson(
      `${replicas[0].url}/chat`,
      { killSwitch: { requestId: 'multi-kill-1', value: true } },
      auth,
    );
    expect(await k.json()).toEqual({ requestId: 'multi-kill-1', killed: true });
    await done;
    expect(frames[frames.length - 2]).toMatchObject({ s: 'error', error: { code: 'cancelled' } });
    expect(frames[frames.length - 1]).toMatchObject({
      s: 'result',
      type: 'end',
      status: 'cancelled',
    });
  }, 30_000);

  it('a stored response chains across replicas at once (previous_response_id, item_reference, GET)', async () => {
    const create = async (url: string, body: unknown) => {
      const res = await postJson(`${url}/v1/responses`, body);
      expect(res.status).toBe(200);
      return (await res.json()) as {
        id: string;
        output: Array<{ id: string; type: string; call_id?: string }>;
        output_text?: string;
      };
    };
    const tools = [{ type: 'function', name: 'lookup', parameters: { type: 'object' } }];
    // streamed on replica 1: the stream ends only once the response is stored
    const streamed = await postJson(`${replicas[0].url}/v1/responses`, {
      model: 'sim-gpt',
      stream: true,
      tools,
      input: 'q\n#sim tool=lookup args={"k":1}',
    });
    let first: { id: string; output: Array<{ id: string; call_id: string }> } | undefined;
    for (const frame of (await streamed.text()).split('\n\n')) {
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      const ev = data ? (JSON.parse(data) as { type: string; response?: typeof first }) : null;
      if (ev?.type === 'response.completed') first = ev.response;
    }
    const call = first!.output[0];
    // chained on replica 2 with previous_response_id, and on replica 3 by item_reference
    const second = await create(replicas[1].url, {
      model: 'sim-gpt',
      tools,
      previous_response_id: first!.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'found' }],
    });
    expect(second.output[0].type).toBe('message');
    const byRef = await create(replicas[2].url, {
      model: 'sim-gpt',
      tools,
      input: [
        { role: 'user', content: 'q\n#sim tool=lookup args={"k":1}' },
        { type: 'item_reference', id: call.id },
        { type: 'function_call_output', call_id: call.call_id, output: 'found' },
      ],
    });
    expect(byRef.output[0].type).toBe('message');
    const got = await fetch(`${replicas[2].url}/v1/responses/${second.id}`, { headers: auth });
    expect(got.status).toBe(200);
  });
});
