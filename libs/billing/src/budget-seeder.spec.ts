import { Redis } from 'ioredis';
import { Migrator, type Database } from '@switchboard/storage';
import {
  createTestPglite,
  deleteRedisPrefix,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
} from '@switchboard/storage/testing';
import { billingMigrations } from './billing.migrations';
import { BudgetHoldJournal } from './budget-hold.journal';
import { BudgetSeeder } from './budget-seeder';
import { BudgetStoreUnseededError } from './budget-store.port';
import { BudgetRepository } from './budget.repository';
import { BudgetService } from './budget.service';
import { RedisBudgetStore } from './redis-budget.store';
import { UsageLedger } from './usage-ledger.service';

describe('budgets after Redis lost its data (seed marker, hold journal, re-seed)', () => {
  let db: Database;
  let client: Redis;
  let prefix: string;
  const now = Date.parse('2026-06-15T12:00:00Z');
  const clock = () => now;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate(billingMigrations);
    client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await deleteRedisPrefix(client, prefix);
    await client.quit();
    await db.close();
  });

  it('refuses reservations once the data is gone, then restores spend, unledgered settlements and open holds', async () => {
    prefix = uniqueRedisPrefix('seed');
    const store = new RedisBudgetStore(client, { prefix: `${prefix}{b}:`, requireSeed: true });
    const budgets = new BudgetService(store, { now: clock });
    const repo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { now: clock });
    const journal = new BudgetHoldJournal(db, { now: clock });
    const seeder = new BudgetSeeder(store, repo, ledger, journal, { now: clock });
    await repo.set({ scopeType: 'user', scopeId: 'u1', period: 'day', limitMicros: 1_000 });
    const scopes = await repo.scopesFor([{ type: 'user', id: 'u1' }]);
    const reserve = async (holdId: string, amountMicros: number) => {
      await journal.open(holdId, scopes, amountMicros, now + 60_000);
      return budgets.reserve({ holdId, scopes, amountMicros, ttlMs: 60_000 });
    };

    // a fresh store is unseeded: closed until seeded
    await expect(reserve('before-seed', 1)).rejects.toBeInstanceOf(BudgetStoreUnseededError);
    await journal.close('before-seed', 0);
    await seeder.seed();
    expect(await store.isSeeded()).toBe(true);

    // 300 spent and in the ledger; 200 settled but not in the ledger yet; 250 held open
    expect(await reserve('a', 300)).toEqual({ ok: true });
    await budgets.settle('a', 300);
    await journal.close('a', 300);
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
      costMicros: 300,
      status: 'complete',
      durationMs: 1,
    });
    await ledger.flush();
    expect(await reserve('b', 200)).toEqual({ ok: true });
    await budgets.settle('b', 200);
    await journal.close('b', 200);
    expect(await reserve('open', 250)).toEqual({ ok: true });
    expect(await budgets.usage('user', 'u1', 'day')).toEqual({ spentMicros: 500, heldMicros: 250 });

    // the data is lost (restart, failover, FLUSHALL): every key of this store
    await deleteRedisPrefix(client, prefix);
    expect(await store.isSeeded()).toBe(false);
    await expect(reserve('during-loss', 1)).rejects.toBeInstanceOf(BudgetStoreUnseededError);
    await journal.close('during-loss', 0);

    await seeder.seed();
    expect(await budgets.usage('user', 'u1', 'day')).toEqual({ spentMicros: 500, heldMicros: 250 });
    // 500 + 250 held: 250 more fits, 251 does not
    expect((await reserve('fits', 250)).ok).toBe(true);
    expect((await reserve('too-much', 1)).ok).toBe(false);
    // the restored open hold settles normally
    expect(await budgets.settle('open', 100)).toBe(true);
    expect(await budgets.usage('user', 'u1', 'day')).toEqual({ spentMicros: 600, heldMicros: 250 });
  });

  it('re-seeding twice, or from two replicas at once, counts nothing twice', async () => {
    prefix = uniqueRedisPrefix('seed2');
    const store = new RedisBudgetStore(client, { prefix: `${prefix}{b}:`, requireSeed: true });
    const budgets = new BudgetService(store, { now: clock });
    const repo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { now: clock });
    const journal = new BudgetHoldJournal(db, { now: clock });
    const seeders = [0, 1].map(
      () => new BudgetSeeder(store, repo, ledger, journal, { now: clock }),
    );
    await Promise.all([...seeders.map((s) => s.seed()), seeders[0].seed()]);
    const before = await budgets.usage('user', 'u1', 'day');
    await Promise.all(seeders.map((s) => s.seed()));
    expect(await budgets.usage('user', 'u1', 'day')).toEqual(before);
  });

  it("counts a minted key's ledgered spend against the key that minted it", async () => {
    prefix = uniqueRedisPrefix('seed3');
    const store = new RedisBudgetStore(client, { prefix: `${prefix}{b}:`, requireSeed: true });
    const budgets = new BudgetService(store, { now: clock });
    const repo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { now: clock });
    const journal = new BudgetHoldJournal(db, { now: clock });
    await repo.set({ scopeType: 'key', scopeId: 'parent', period: 'day', limitMicros: 1_000 });
    for (const [requestId, keyId, costMicros] of [
      ['p1', 'parent', 100],
      ['c1', 'child', 40],
      ['g1', 'grandchild', 2],
      ['x1', 'stranger', 500],
    ] as const)
      ledger.record({
        requestId,
        attempt: 1,
        userId: 'u9',
        keyId,
        model: 'm',
        provider: 'p',
        inputTokens: 1,
        cachedInputTokens: 0,
        outputTokens: 1,
        reasoningTokens: 0,
        costMicros,
        status: 'complete',
        durationMs: 1,
      });
    await ledger.flush();
    const seeder = new BudgetSeeder(store, repo, ledger, journal, {
      now: clock,
      keysUnder: (id) => Promise.resolve(id === 'parent' ? ['child', 'grandchild'] : []),
    });
    await seeder.seed();
    expect(await budgets.usage('key', 'parent', 'day')).toEqual({
      spentMicros: 142,
      heldMicros: 0,
    });
  });

  it('restores journaled holds only when the store lost its data (a boot next to live replicas adds no phantom hold)', async () => {
    prefix = uniqueRedisPrefix('seed4');
    const store = new RedisBudgetStore(client, { prefix: `${prefix}{b}:`, requireSeed: true });
    const budgets = new BudgetService(store, { now: clock });
    const repo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { now: clock });
    const journal = new BudgetHoldJournal(db, { now: clock });
    const seeder = new BudgetSeeder(store, repo, ledger, journal, { now: clock });
    await repo.set({ scopeType: 'user', scopeId: 'u4', period: 'day', limitMicros: 1_000 });
    const scopes = await repo.scopesFor([{ type: 'user', id: 'u4' }]);
    await seeder.seed();
    // settled in the store, but its journal row was never closed (that write failed)
    await journal.open('settled-elsewhere', scopes, 400, now + 60_000);
    await budgets.reserve({
      holdId: 'settled-elsewhere',
      scopes,
      amountMicros: 400,
      ttlMs: 60_000,
    });
    await budgets.settle('settled-elsewhere', 0);
    await seeder.seed(); // another replica booting
    expect(await budgets.usage('user', 'u4', 'day')).toEqual({ spentMicros: 0, heldMicros: 0 });
    // after a loss the journal is all there is: the open row is restored (conservative)
    await deleteRedisPrefix(client, prefix);
    await seeder.seed();
    expect(await budgets.usage('user', 'u4', 'day')).toEqual({ spentMicros: 0, heldMicros: 400 });
    await journal.close('settled-elsewhere', 0);
  });
});
