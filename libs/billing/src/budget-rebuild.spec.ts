import { Redis } from 'ioredis';
import { Migrator } from '@switchboard/storage';
import {
  createTestPglite,
  deleteRedisPrefix,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
} from '@switchboard/storage/testing';
import { billingMigrations } from './billing.migrations';
import { BudgetService } from './budget.service';
import { RedisBudgetStore } from './redis-budget.store';
import { UsageLedger } from './usage-ledger.service';

describe('rebuilding Redis budget state from the ledger', () => {
  it('restores spend after Redis lost everything, so limits hold across a Redis restart', async () => {
    const db = await createTestPglite();
    const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    const prefix = uniqueRedisPrefix('rebuild');
    try {
      await new Migrator(db).migrate(billingMigrations);
      const now = Date.parse('2026-06-15T12:00:00Z');
      const clock = () => now;
      const ledger = new UsageLedger(db, { now: clock });
      const scopes = [
        {
          type: 'user' as const,
          id: 'u1',
          limits: [{ period: 'day' as const, limitMicros: 1_000 }],
        },
      ];

      // yesterday's spend must not count against today's budget
      ledger.record({
        requestId: 'old',
        attempt: 0,
        userId: 'u1',
        model: 'm',
        provider: 'p',
        inputTokens: 1,
        cachedInputTokens: 0,
        outputTokens: 1,
        reasoningTokens: 0,
        costMicros: 5_000,
        status: 'complete',
        durationMs: 1,
        createdAt: new Date('2026-06-14T23:59:59Z'),
      });
      const before = new BudgetService(new RedisBudgetStore(client, { prefix }), { now: clock });
      expect(
        await before.reserve({ holdId: 'r1', scopes, amountMicros: 900, ttlMs: 60_000 }),
      ).toEqual({ ok: true });
      await before.settle('r1', 800);
      ledger.record({
        requestId: 'r1',
        attempt: 0,
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

      await deleteRedisPrefix(client, prefix); // Redis restarted empty
      const after = new BudgetService(new RedisBudgetStore(client, { prefix }), { now: clock });
      expect(
        await after.reserve({ holdId: 'r2', scopes, amountMicros: 900, ttlMs: 60_000 }),
      ).toEqual({ ok: true });
      await after.release('r2');

      await after.rebuildFromLedger(ledger, [{ type: 'user', id: 'u1' }]);
      expect((await after.usage('user', 'u1', 'day')).spentMicros).toBe(800);
      expect((await after.usage('user', 'u1', 'total')).spentMicros).toBe(5_800);
      expect(
        await after.reserve({ holdId: 'r3', scopes, amountMicros: 900, ttlMs: 60_000 }),
      ).toMatchObject({
        ok: false,
        spentMicros: 800,
      });
    } finally {
      await deleteRedisPrefix(client, prefix);
      await client.quit();
      await db.close();
    }
  });
});
