import {
  AccountService,
  ApiKeyService,
  SqlAccountRepository,
  SqlApiKeyRepository,
} from '@switchboard/auth';
import { startSimulator, type RunningSimulator } from '@switchboard/simulator';
import { createTestPostgres, type TestPostgres } from '@switchboard/storage/testing';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
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

const SECRET = 'spend-attacks-api-key-secret-0123456789';

/** $1,000 per million input tokens, $2,000 per million output: one hold is about $0.21. */
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
    {
      id: 'pricey-embed',
      provider: 'openai',
      upstreamModel: 'text-embedding-3-small',
      contextWindow: 8191,
      maxOutputTokens: 0,
      pricing: { input: 1000, cachedInput: 1000, output: 0, checked: '2025-10-01' },
      capabilities: ['embeddings'],
    },
  ],
};

/** the worst case of one `pricey` request, the most any attack may overspend by */
const ONE_REQUEST_WORST_CASE_MICROS = 250_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A private redis-server without persistence: killing it loses everything, like a failover. */
class OwnRedis {
  child?: ChildProcess;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
    });
  }

  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }
}

interface Replica {
  child: ChildProcess;
  url: string;
  exit: Promise<number | null>;
}

/**
 * The attacks of a hostile caller on spend, run through HTTP against three
 * gateway processes sharing PostgreSQL and a private Redis.
 */
describe('spend under attack: three replicas, PostgreSQL and a private Redis', () => {
  let sim: RunningSimulator;
  let pg: TestPostgres;
  let dir: string;
  let redis: OwnRedis;
  let client: Redis;
  let replicas: Replica[];
  let apiKeys: ApiKeyService;
  let accounts: AccountService;

  beforeAll(async () => {
    redis = new OwnRedis(await freePort());
    await redis.start();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: false });
    sim = await startSimulator({ port: 0, host: '127.0.0.1' });
    pg = await createTestPostgres();
    dir = await mkdtemp(join(tmpdir(), 'sb-attack-'));
    await writeFile(join(dir, 'models.json'), JSON.stringify(MODELS));
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      SIMULATOR_URL: sim.url,
      MODELS_FILE: join(dir, 'models.json'),
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      API_KEY_SECRET: SECRET,
      LOG_LEVEL: 'info',
      SHUTDOWN_DRAIN_SECONDS: '2',
    };
    // one replica migrates first; the others then boot together
    replicas = [await spawnGateway({ ...env, DATA_DIR: join(dir, 'r0') })];
    replicas.push(
      ...(await Promise.all(
        [1, 2].map((i) => spawnGateway({ ...env, DATA_DIR: join(dir, `r${i}`) })),
      )),
    );
    apiKeys = new ApiKeyService(new SqlApiKeyRepository(pg.db), {
      secret: SECRET,
      lastUsedFlushMs: 0,
    });
    accounts = new AccountService(new SqlAccountRepository(pg.db));
  }, 90_000);

  afterAll(async () => {
    for (const r of replicas ?? []) r.child.kill('SIGTERM');
    await Promise.all((replicas ?? []).map((r) => r.exit));
    client?.disconnect();
    await redis?.kill();
    await apiKeys?.close();
    await pg?.drop();
    await sim?.close();
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  let n = 0;
  async function newKey(limits: Record<string, number> = {}) {
    const user = `attacker-${++n}`;
    const account = await accounts.create({ name: user });
    const { key, record } = await apiKeys.create({
      ownerUserId: user,
      accountId: account.id,
      scopes: ['chat', 'embeddings'],
      name: user,
      limits: {
        requestsPerMinute: 100_000,
        concurrentStreams: 1000,
        tokensPerMinute: 100_000_000,
        ...limits,
      },
    });
    return {
      user,
      accountId: account.id,
      keyId: record.id,
      headers: { authorization: `Bearer ${key}` },
    };
  }

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${replicas[0].url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...auth },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  async function setBudget(scope: string, id: string, limitUsd: number) {
    const r = await admin('PUT', `/admin/budgets/${scope}/${id}/day`, { limitUsd });
    expect(r.status).toBe(200);
  }

  /** a /chat request; resolves with the status and, for 200, every frame */
  async function chat(
    replica: number,
    headers: Record<string, string>,
    text: string,
    requestId?: string,
    model = 'pricey',
  ) {
    const res = await postJson(
      `${replicas[replica].url}/chat`,
      {
        messages: [{ role: 'user', content: text }],
        options: { model: { id: model }, ...(requestId ? { requestId } : {}) },
      },
      headers,
    );
    if (res.status !== 200)
      return {
        status: res.status,
        code: ((await res.json()) as { error: { code: string } }).error.code,
        res,
      };
    const frames: Array<Record<string, unknown>> = [];
    for await (const f of readSse(res))
      if (f.data) frames.push(JSON.parse(f.data) as Record<string, unknown>);
    return { status: 200, code: undefined, res, frames };
  }

  async function ledgerOf(userId: string, expectRows: number) {
    let rows: Array<{ request_id: string; client_request_id: string | null; cost_micros: string }> =
      [];
    await waitFor(
      async () => {
        rows = (
          await pg.db.query<{
            request_id: string;
            client_request_id: string | null;
            cost_micros: string;
          }>(
            'SELECT request_id, client_request_id, cost_micros FROM usage_ledger WHERE user_id = $1',
            [userId],
          )
        ).rows;
        return rows.length >= expectRows;
      },
      15_000,
      50,
    );
    return rows;
  }

  async function mint(headers: Record<string, string>, expectedParent: string | undefined) {
    const minted = await postJson(
      `${replicas[0].url}/me/keys`,
      { name: 'minted', scopes: ['chat'] },
      headers,
    );
    expect(minted.status).toBe(201);
    const body = (await minted.json()) as { key: string; record: { parentKeyId: string } };
    if (expectedParent) expect(body.record.parentKeyId).toBe(expectedParent);
    else expect(body.record.parentKeyId).toEqual(expect.any(String));
    return { authorization: `Bearer ${body.key}` };
  }

  const spentOf = (rows: Array<{ cost_micros: string }>) =>
    rows.reduce((s, r) => s + Number(r.cost_micros), 0);

  it('concurrent reuse of one requestId by one user: one request runs, the others get 409 duplicate_request', async () => {
    const k = await newKey({ concurrentStreams: 2 });
    const callsBefore = sim.stats().started;
    // The first request holds the id for as long as the test needs: it is still
    // streaming (first frame read, end not reached) while every other one is answered.
    const abort = new AbortController();
    const first = await postJson(
      `${replicas[0].url}/chat`,
      {
        messages: [{ role: 'user', content: 'slow\n#sim tokens=2000 tps=20' }],
        options: { model: { id: 'sim-gpt' }, requestId: 'reused-id' },
      },
      k.headers,
      abort.signal,
    );
    expect(first.status).toBe(200);
    const frames = readSse(first);
    expect((await frames.next()).done).toBe(false);
    const results = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        chat(i % 3, k.headers, 'slow\n#sim tokens=40 tps=20', 'reused-id', 'sim-gpt'),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 11 }, () => 409));
    expect(results.every((r) => r.code === 'duplicate_request')).toBe(true);
    abort.abort();
    await frames.return(undefined).catch(() => undefined);
    // the server's own id keys the row; the client's id is kept beside it
    const rows = await ledgerOf(k.user, 1);
    expect(rows).toHaveLength(1);
    expect(sim.stats().started - callsBefore).toBe(1); // one upstream call, one row
    expect(rows[0].client_request_id).toBe('reused-id');
    expect(rows[0].request_id).not.toBe('reused-id');
    expect(first.headers.get('x-request-id')).toBe('reused-id');
    expect(first.headers.get('x-switchboard-request-id')).toBe(rows[0].request_id);
  }, 60_000);

  it('sequential reuse of one requestId: every served request has its own hold and ledger row', async () => {
    const k = await newKey();
    for (let i = 0; i < 3; i++) {
      const r = await chat(i, k.headers, 'hi\n#sim tokens=3', 'same-again', 'sim-gpt');
      expect(r.status).toBe(200);
    }
    const rows = await ledgerOf(k.user, 3);
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(3);
    expect(rows.every((r) => r.client_request_id === 'same-again')).toBe(true);
  }, 60_000);

  it('the same requestId from two users neither collides nor shares a hold, and only its owner can kill it', async () => {
    const a = await newKey();
    const b = await newKey();
    await setBudget('account', b.accountId, 0);
    // A's slow stream holds "shared-id"; B's request with that id is B's own: refused by B's budget
    const resA = await postJson(
      `${replicas[0].url}/chat`,
      {
        messages: [{ role: 'user', content: 'slow\n#sim tokens=60 tps=20' }],
        options: { model: { id: 'pricey' }, requestId: 'shared-id' },
      },
      a.headers,
    );
    expect(resA.status).toBe(200);
    const framesA: Array<Record<string, unknown>> = [];
    const doneA = (async () => {
      for await (const f of readSse(resA))
        if (f.data) framesA.push(JSON.parse(f.data) as Record<string, unknown>);
    })();
    await waitFor(() => framesA.length > 0, 10_000);
    const rb = await chat(1, b.headers, 'hi\n#sim tokens=3', 'shared-id');
    expect(rb.status).toBe(402);
    expect(rb.code).toBe('budget_exceeded');
    // B cancelling A's id does not reach A's stream, by either route: the answer is the
    // one an unknown id gets
    const kb = await postJson(
      `${replicas[2].url}/chat`,
      { killSwitch: { requestId: 'shared-id', value: true } },
      b.headers,
    );
    expect(await kb.json()).toEqual({ requestId: 'shared-id', killed: false });
    const cb = await postJson(
      `${replicas[1].url}/chat/cancel`,
      { requestId: 'shared-id' },
      b.headers,
    );
    expect(cb.status).toBe(200);
    expect(await cb.json()).toEqual({ requestId: 'shared-id', killed: false });
    const unknown = await postJson(
      `${replicas[1].url}/chat/cancel`,
      { requestId: 'no-such-request' },
      b.headers,
    );
    expect(await unknown.json()).toEqual({ requestId: 'no-such-request', killed: false });
    // A's own cancel does, from another replica than the one streaming
    const ka = await postJson(
      `${replicas[2].url}/chat/cancel`,
      { requestId: 'shared-id' },
      a.headers,
    );
    expect(ka.status).toBe(200);
    expect(await ka.json()).toEqual({ requestId: 'shared-id', killed: true });
    await doneA;
    expect(framesA[framesA.length - 1]).toMatchObject({ s: 'result', status: 'cancelled' });
  }, 60_000);

  it('a budget lowered through the admin API applies to the very next request on another replica', async () => {
    const k = await newKey();
    await setBudget('key', k.keyId, 100);
    expect((await chat(1, k.headers, 'hi\n#sim tokens=3')).status).toBe(200);
    await setBudget('key', k.keyId, 0.01);
    const r = await chat(1, k.headers, 'hi\n#sim tokens=3');
    expect(r.status).toBe(402);
    expect(r.code).toBe('budget_exceeded');
  }, 60_000);

  it('a key rate limit lowered through the admin API applies to the very next request on another replica', async () => {
    const k = await newKey();
    expect((await chat(2, k.headers, 'hi\n#sim tokens=3', undefined, 'sim-gpt')).status).toBe(200);
    const r = await admin('PUT', `/admin/keys/${k.keyId}/limits`, { requestsPerMinute: 1 });
    expect(r.status).toBe(200);
    const next = await chat(2, k.headers, 'hi\n#sim tokens=3', undefined, 'sim-gpt');
    expect(next.status).toBe(429);
  }, 60_000);

  it('embeddings are admitted like chat: refused on an exhausted budget, held and ledgered otherwise', async () => {
    const k = await newKey();
    await setBudget('key', k.keyId, 0);
    const refused = await postJson(
      `${replicas[0].url}/v1/embeddings`,
      { model: 'pricey-embed', input: 'hello there' },
      k.headers,
    );
    expect(refused.status).toBe(402);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'budget_exceeded',
    );
    // a budget that fits one worst case (12 tokens = $0.012) but not a second after it
    await setBudget('key', k.keyId, 0.014);
    const input = 'x'.repeat(12);
    const ok = await postJson(
      `${replicas[1].url}/v1/embeddings`,
      { model: 'pricey-embed', input },
      k.headers,
    );
    expect(ok.status).toBe(200);
    const second = await postJson(
      `${replicas[2].url}/v1/embeddings`,
      { model: 'pricey-embed', input },
      k.headers,
    );
    expect(second.status).toBe(402);
    const rows = await ledgerOf(k.user, 1);
    expect(rows).toHaveLength(1);
    expect(spentOf(rows)).toBeGreaterThan(0);
    expect(spentOf(rows)).toBeLessThanOrEqual(20_000);
  }, 60_000);

  it('a key minted through POST /me/keys by a capped key stays under that key’s budget', async () => {
    const parent = await newKey();
    await setBudget('key', parent.keyId, 0.5);
    const child = await mint(parent.headers, parent.keyId);
    // the parent spends its budget down until a worst case no longer fits
    const spent = await spendUntilRefused(parent.headers);
    expect(spent[spent.length - 1]).toBe(402);
    const viaChild = await chat(1, child, 'hi\n#sim tokens=3');
    expect(viaChild.status).toBe(402);
    expect(viaChild.code).toBe('budget_exceeded');
  }, 60_000);

  it('a budget on the replacement of a rotated key binds the keys the old key minted, on every replica', async () => {
    const parent = await newKey();
    const child = await mint(parent.headers, parent.keyId);
    // a cached chain on another replica must not outlive the rotation
    expect((await chat(2, child, 'hi\n#sim tokens=3')).status).toBe(200);
    const rotated = await admin('POST', `/admin/keys/${parent.keyId}/rotate`, { graceSeconds: 60 });
    expect(rotated.status).toBe(201);
    const { record } = (await rotated.json()) as { record: { id: string } };
    await setBudget('key', record.id, 0);
    const viaChild = await chat(2, child, 'hi\n#sim tokens=3');
    expect(viaChild.status).toBe(402);
    expect(viaChild.code).toBe('budget_exceeded');
  }, 60_000);

  it('minting a chain of keys deeper than admission follows is refused; every key in it stays under the top key’s budget', async () => {
    const root = await newKey();
    await setBudget('key', root.keyId, 0);
    let headers = root.headers;
    for (let depth = 1; depth <= 8; depth++) headers = await mint(headers, undefined);
    const deepest = await chat(2, headers, 'hi\n#sim tokens=3');
    expect(deepest.status).toBe(402);
    expect(deepest.code).toBe('budget_exceeded');
    // a ninth key would sit beyond what admission follows up to the capped root
    const ninth = await postJson(
      `${replicas[1].url}/me/keys`,
      { name: 'too-deep', scopes: ['chat'] },
      headers,
    );
    expect(ninth.status).toBe(403);
    expect(((await ninth.json()) as { error: { code: string } }).error.code).toBe('forbidden');
  }, 60_000);

  it('a key minted through POST /me/keys shares the minting key’s rate limits', async () => {
    const parent = await newKey({ requestsPerMinute: 3 });
    const child = await mint(parent.headers, parent.keyId);
    expect((await chat(0, parent.headers, 'hi\n#sim tokens=3', undefined, 'sim-gpt')).status).toBe(
      200,
    );
    expect((await chat(1, child, 'hi\n#sim tokens=3', undefined, 'sim-gpt')).status).toBe(200);
    expect((await chat(2, child, 'hi\n#sim tokens=3', undefined, 'sim-gpt')).status).toBe(200);
    const fourth = await chat(0, child, 'hi\n#sim tokens=3', undefined, 'sim-gpt');
    expect(fourth.status).toBe(429);
    // a grandchild minted by the child is bound by both
    const grandchild = await mint(child, undefined);
    expect((await chat(1, grandchild, 'hi\n#sim tokens=3', undefined, 'sim-gpt')).status).toBe(429);
  }, 60_000);

  /**
   * Requests one at a time, round robin, until the budget refuses. `maxServed`
   * bounds the answers served (an over-admitting gateway fails here); 503s while
   * re-seeding are retried for as long as `failClosedMs` allows, however many
   * that is on a loaded machine.
   */
  async function spendUntilRefused(
    headers: Record<string, string>,
    maxServed = 40,
    failClosedMs = 30_000,
  ) {
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; ; i++) {
      const r = await chat(i % 3, headers, 'hi\n#sim tokens=5');
      statuses.push(r.status);
      if (r.status === 402) break;
      expect([200, 503]).toContain(r.status);
      const served = statuses.filter((s) => s === 200).length;
      if (served > maxServed)
        throw new Error(`budget never refused after ${served} served: ${statuses.join(',')}`);
      if (r.status === 503 && Date.now() - started > failClosedMs)
        throw new Error(`still failing closed after ${failClosedMs} ms: ${statuses.join(',')}`);
    }
    return statuses;
  }

  it('Redis evicted the spend counters but kept the seed marker: replicas notice and re-seed before the budget reopens', async () => {
    const k = await newKey();
    await setBudget('account', k.accountId, 1);
    const spent = await spendUntilRefused(k.headers, 60);
    expect(spent[spent.length - 1]).toBe(402);
    const marker = 'sb:{budget}:seeded';
    const seededBefore = await client.get(marker);
    expect(seededBefore).not.toBeNull();
    // memory pressure under a policy that evicts keys with a TTL, shortest first:
    // the hour, day and month spend counters go, the marker (no TTL) stays
    const counters = `sb:{budget}:spent:*:account:${k.accountId}`;
    const ttlCounters = async () =>
      (await client.keys(counters)).filter((key) => !key.includes(':spent:total:')).length;
    expect(await ttlCounters()).toBe(3);
    const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    await client.config('SET', 'maxmemory-policy', 'volatile-ttl');
    await client.config('SET', 'maxmemory', String(used + 512 * 1024));
    const filler = 'x'.repeat(16 * 1024);
    let fillers = 0;
    while ((await ttlCounters()) > 0) {
      if (fillers > 20_000) throw new Error('Redis never evicted the spend counters');
      await client.set(`evict-filler:${fillers++}`, filler, 'EX', 90 * 86_400);
    }
    await client.config('SET', 'maxmemory', '0');
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    for (let i = 0; i < fillers; i += 500)
      await client.unlink(
        ...Array.from({ length: Math.min(500, fillers - i) }, (_, j) => `evict-filler:${i + j}`),
      );
    // a replica notices the eviction, drops the marker and re-seeds from the ledger
    await waitFor(
      async () => {
        const v = await client.get(marker);
        return v !== null && v !== seededBefore;
      },
      20_000,
      50,
    );
    for (let i = 0; i < 3; i++) {
      const r = await chat(i, k.headers, 'hi\n#sim tokens=5');
      expect(r.status).toBe(402);
    }
    const rows = await ledgerOf(k.user, spent.filter((st) => st === 200).length);
    expect(spentOf(rows)).toBeLessThanOrEqual(1_000_000 + ONE_REQUEST_WORST_CASE_MICROS);
  }, 120_000);

  it('Redis flushed mid-traffic: no replica admits until spend and open holds are re-seeded from PostgreSQL', async () => {
    const k = await newKey();
    await setBudget('account', k.accountId, 1);
    const callsBefore = sim.stats().started;
    // a fifth or so of the budget spent before the loss
    for (let i = 0; i < 6; i++)
      expect((await chat(i % 3, k.headers, 'hi\n#sim tokens=5')).status).toBe(200);
    // a stream in flight across the loss: its hold must come back
    const slow = await postJson(
      `${replicas[0].url}/chat`,
      {
        messages: [{ role: 'user', content: 'slow\n#sim tokens=80 tps=20' }],
        options: { model: { id: 'pricey' } },
      },
      k.headers,
    );
    expect(slow.status).toBe(200);
    const slowFrames: string[] = [];
    const slowDone = (async () => {
      for await (const f of readSse(slow)) if (f.data) slowFrames.push(f.data);
    })();
    await waitFor(() => slowFrames.length > 0, 10_000);
    await client.flushall();
    const statuses = await spendUntilRefused(k.headers);
    await slowDone;
    expect(statuses).toContain(503); // failed closed while re-seeding
    expect(statuses[statuses.length - 1]).toBe(402);
    const served = 6 + 1 + statuses.filter((s) => s === 200).length;
    const rows = await ledgerOf(k.user, served);
    expect(rows).toHaveLength(served);
    expect(sim.stats().started - callsBefore).toBe(served); // every upstream call has its row
    expect(spentOf(rows)).toBeLessThanOrEqual(1_000_000 + ONE_REQUEST_WORST_CASE_MICROS);
  }, 90_000);

  it('Redis killed with -9 and restarted empty: budgets hold after it comes back', async () => {
    const k = await newKey();
    await setBudget('account', k.accountId, 1);
    for (let i = 0; i < 6; i++)
      expect((await chat(i % 3, k.headers, 'hi\n#sim tokens=5')).status).toBe(200);
    const before = spentOf(await ledgerOf(k.user, 6));
    await redis.kill();
    // Redis down: rate limits fail open (counted), budgets fail closed
    const down = await chat(0, k.headers, 'hi\n#sim tokens=5');
    expect(down.status).toBe(503);
    expect(down.code).toBe('service_unavailable');
    await redis.start();
    // every replica reconnected (/ready stays 200 through the outage; its details say
    // whether Redis is reachable again)
    await waitFor(
      async () =>
        (
          await Promise.all(
            replicas.map((r) =>
              fetch(`${r.url}/ready`).then(
                async (x) =>
                  ((await x.json()) as { info?: { redis?: { status?: string } } }).info?.redis
                    ?.status,
              ),
            ),
          )
        ).every((st) => st === 'up'),
      20_000,
      100,
    );
    const statuses = await spendUntilRefused(k.headers, 60);
    const metrics = await (await fetch(`${replicas[0].url}/metrics`)).text();
    const counted = /switchboard_admission_fail_open_total\{check="rate_limit"\} (\d+)/.exec(
      metrics,
    );
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(1);
    const ready = (await (await fetch(`${replicas[0].url}/ready`)).json()) as {
      details: { policies: { admission: { failOpen: { rate_limit: number } } } };
    };
    expect(ready.details.policies.admission.failOpen.rate_limit).toBeGreaterThanOrEqual(1);
    expect(statuses[statuses.length - 1]).toBe(402);
    const served = 6 + statuses.filter((s) => s === 200).length;
    const rows = await ledgerOf(k.user, served);
    expect(before).toBeGreaterThan(0);
    expect(spentOf(rows)).toBeLessThanOrEqual(1_000_000 + ONE_REQUEST_WORST_CASE_MICROS);
  }, 120_000);
});
