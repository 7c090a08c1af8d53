import { Redis } from 'ioredis';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import { SPENT_TTL_MS } from './budget-periods';
import { BudgetService } from './budget.service';
import { RedisBudgetStore } from './redis-budget.store';

describe('RedisBudgetStore specifics', () => {
  const prefix = uniqueRedisPrefix('budget-ttl');
  let client: Redis;
  beforeAll(() => {
    client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await deleteRedisPrefix(client, prefix);
    await client.quit();
  });

  it('gives period counters a TTL a little longer than the period, none for total, and expires hold bookkeeping', async () => {
    const now = Date.parse('2026-03-10T10:30:00Z');
    const svc = new BudgetService(new RedisBudgetStore(client, { prefix }), { now: () => now });
    await svc.reserve({
      holdId: 'ttl-1',
      scopes: [
        { type: 'user', id: 'u:with:colons', limits: [{ period: 'day', limitMicros: 100 }] },
      ],
      amountMicros: 10,
      ttlMs: 30_000,
    });
    const holdTtl = await client.pttl(`${prefix}holds:user:u:with:colons`);
    expect(holdTtl).toBeGreaterThan(30_000);
    expect(holdTtl).toBeLessThanOrEqual(90_000);
    await svc.settle('ttl-1', 7);
    const ttl = (bucket: string) => client.pttl(`${prefix}spent:${bucket}:user:u:with:colons`);
    const hour = await ttl('2026-03-10T10');
    expect(hour).toBeGreaterThan(SPENT_TTL_MS.hour - 5_000);
    expect(hour).toBeGreaterThan(3_600_000);
    expect(await ttl('2026-03-10')).toBeGreaterThan(24 * 3_600_000);
    expect(await ttl('2026-03')).toBeGreaterThan(31 * 24 * 3_600_000);
    expect(await ttl('total')).toBe(-1);
    expect(await client.get(`${prefix}spent:total:user:u:with:colons`)).toBe('7');
    expect(await client.exists(`${prefix}hold:ttl-1`)).toBe(0);
  });

  it('fails fast (rejects) when Redis is unreachable, leaving the policy to the caller', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    down.on('error', () => undefined);
    const svc = new BudgetService(new RedisBudgetStore(down, { prefix }));
    const started = Date.now();
    await expect(
      svc.reserve({
        holdId: 'x',
        scopes: [{ type: 'user', id: 'u', limits: [] }],
        amountMicros: 1,
        ttlMs: 1_000,
      }),
    ).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(500);
    down.disconnect();
  });
});
