import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { Migrator, type Database } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { billingMigrations } from './billing.migrations';
import { BudgetHoldJournal } from './budget-hold.journal';
import { bucketsAt } from './budget-periods';
import { BudgetSeeder } from './budget-seeder';
import { BudgetStoreUnseededError } from './budget-store.port';
import { BudgetRepository } from './budget.repository';
import { BudgetService } from './budget.service';
import { RedisBudgetStore } from './redis-budget.store';
import { UsageLedger } from './usage-ledger.service';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** a private redis-server: this spec shrinks its memory until it evicts */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      // evicts keys with a TTL only, shortest first: the seed marker (no TTL) stays
      ...['--maxmemory-policy', 'volatile-ttl'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return child;
}

describe('budgets after Redis evicted a spend counter but kept the seed marker', () => {
  let db: Database;
  let server: ChildProcess;
  let client: Redis;
  const now = Date.now();
  const clock = () => now;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate(billingMigrations);
    const port = await freePort();
    server = await startRedis(port);
    client = new Redis(`redis://127.0.0.1:${port}`, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server.once('exit', r));
      server.kill('SIGKILL');
      await gone;
    }
    await db?.close();
  });

  it('drops the marker, refuses until re-seeded, then the ledger’s spend holds again', async () => {
    const prefix = 'sb:{budget}:';
    const store = new RedisBudgetStore(client, { prefix, requireSeed: true });
    const budgets = new BudgetService(store, { now: clock });
    const repo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { now: clock });
    const journal = new BudgetHoldJournal(db, { now: clock });
    const seeder = new BudgetSeeder(store, repo, ledger, journal, { now: clock });
    await repo.set({ scopeType: 'user', scopeId: 'u1', period: 'day', limitMicros: 1_000 });
    const scopes = await repo.scopesFor([{ type: 'user', id: 'u1' }]);
    const reserve = (holdId: string, amountMicros: number) =>
      budgets.reserve({ holdId, scopes, amountMicros, ttlMs: 60_000 });

    await seeder.seed();
    // 800 of 1000 spent, in the ledger and in Redis
    expect(await reserve('a', 800)).toEqual({ ok: true });
    await budgets.settle('a', 800);
    ledger.record({
      requestId: 'a',
      attempt: 1,
      userId: 'u1',
      model: 'm',
      provider: 'p',
      inputTokens: 1,
      cachedInputTokens: 0,
      outputTokens: 1,
      reasoningTokens: 0,
      costMicros: 800,
      status: 'complete',
      durationMs: 1,
    });
    await ledger.flush();
    expect(await reserve('b', 300)).toMatchObject({ ok: false, spentMicros: 800 });
    expect(await store.dropSeedIfEvicted()).toBe(false); // nothing evicted yet

    // memory pressure: Redis evicts the day's spend counter (it has a TTL), not the marker
    const dayKey = `${prefix}spent:${bucketsAt(now).day}:user:u1`;
    expect(await client.get(dayKey)).toBe('800');
    const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    await client.config('SET', 'maxmemory', String(used + 256 * 1024));
    const filler = 'x'.repeat(16 * 1024);
    for (let i = 0; (await client.exists(dayKey)) === 1; i++) {
      if (i > 10_000) throw new Error('Redis never evicted the spend counter');
      await client.set(`filler:${i}`, filler, 'EX', 30 * 86_400);
    }
    await client.config('SET', 'maxmemory', '0');
    expect(await client.exists(`${prefix}seeded`)).toBe(1);
    // the attack the marker alone misses: spend reads 0, so 300 more would be admitted
    expect(await budgets.usage('user', 'u1', 'day')).toMatchObject({ spentMicros: 0 });

    expect(await store.dropSeedIfEvicted()).toBe(true);
    await expect(reserve('c', 300)).rejects.toBeInstanceOf(BudgetStoreUnseededError);
    await seeder.seed();
    expect(await store.dropSeedIfEvicted()).toBe(false); // the new marker counts from here
    expect(await reserve('d', 300)).toMatchObject({ ok: false, spentMicros: 800 });
    expect(await reserve('e', 200)).toEqual({ ok: true });
  }, 60_000);
});
