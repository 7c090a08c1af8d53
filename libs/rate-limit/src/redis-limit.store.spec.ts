import { randomUUID } from 'node:crypto';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import { Redis } from 'ioredis';
import { limitStoreContract, type StoreHarness } from '../test/limit-store.contract';
import { RedisLimitStore } from './redis-limit.store';
import { RateLimitService } from './rate-limit.service';

const prefix = uniqueRedisPrefix('rl');
let clients: Redis[] = [];

beforeAll(() => {
  clients = [0, 1, 2].map(() => new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 }));
});

afterAll(async () => {
  await deleteRedisPrefix(clients[0], prefix);
  await Promise.all(clients.map((c) => c.quit()));
});

function harness(): StoreHarness {
  return {
    store: new RedisLimitStore(clients[0], { keyPrefix: prefix }),
    windowMs: 1_000,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}

describe('RedisLimitStore (LimitStore contract)', () => {
  it.each(limitStoreContract)('%s', async (_name, run) => run(harness()));
});

describe('RedisLimitStore across replicas', () => {
  it('admits exactly 50 of 200 concurrent checks through 3 separate clients', async () => {
    const services = clients.map(
      (c) =>
        new RateLimitService(new RedisLimitStore(c, { keyPrefix: prefix }), { failOpen: false }),
    );
    const subject = `key:${randomUUID()}` as const;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        services[i % 3].check({
          subjects: [
            { subject, limits: { requestsPerMinute: 50 } },
            { subject: `user:${randomUUID()}`, limits: { requestsPerMinute: 1_000 } },
          ],
          estimatedTokens: 10,
          slotId: randomUUID(),
          leaseMs: 30_000,
        }),
      ),
    );
    const allowed = results.filter((r) => r.allowed).length;
    const limited = results.filter((r) => !r.allowed && r.reason === 'rate_limited').length;
    expect(allowed).toBe(50);
    expect(limited).toBe(150);
    expect(await clients[1].zcard(`${prefix}{rl}:req:${subject}`)).toBe(50);
  });

  it('keeps concurrent stream slots exact across clients', async () => {
    const stores = clients.map((c) => new RedisLimitStore(c, { keyPrefix: prefix }));
    const subject = `account:${randomUUID()}` as const;
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        stores[i % 3].check({
          subjects: [{ subject, limits: { concurrentStreams: 7 } }],
          estimatedTokens: 0,
          slotId: randomUUID(),
          leaseMs: 30_000,
          windowMs: 60_000,
        }),
      ),
    );
    expect(results.filter((r) => r.allowed).length).toBe(7);
  });

  it('stores no state for a refused check', async () => {
    const store = new RedisLimitStore(clients[2], { keyPrefix: prefix });
    const subject = `user:${randomUUID()}` as const;
    const slotId = randomUUID();
    const r = await store.check({
      subjects: [{ subject, limits: { requestsPerMinute: 0, concurrentStreams: 5 } }],
      estimatedTokens: 5,
      slotId,
      leaseMs: 30_000,
      windowMs: 60_000,
    });
    expect(r.allowed).toBe(false);
    expect(
      await clients[2].exists(`${prefix}{rl}:str:${subject}`, `${prefix}{rl}:slot:${slotId}`),
    ).toBe(0);
  });

  it('gives every key a TTL so idle subjects disappear', async () => {
    const store = new RedisLimitStore(clients[0], { keyPrefix: prefix });
    const subject = `key:${randomUUID()}` as const;
    const slotId = randomUUID();
    await store.check({
      subjects: [
        { subject, limits: { requestsPerMinute: 5, tokensPerMinute: 50, concurrentStreams: 1 } },
      ],
      estimatedTokens: 5,
      slotId,
      leaseMs: 5_000,
      windowMs: 60_000,
    });
    for (const k of ['req', 'tok', 'tkw', 'str']) {
      const ttl = await clients[0].pttl(`${prefix}{rl}:${k}:${subject}`);
      expect(ttl).toBeGreaterThan(0);
    }
    expect(await clients[0].pttl(`${prefix}{rl}:slot:${slotId}`)).toBeGreaterThan(0);
  });
});
