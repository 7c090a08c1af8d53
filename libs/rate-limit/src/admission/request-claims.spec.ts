import { Redis } from 'ioredis';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import { MemoryRequestClaims, RedisRequestClaims, type RequestClaims } from './request-claims';

interface Harness {
  claims: RequestClaims;
  /** lets the contract's 50 ms claim of (alice, r3) run out */
  expire: () => Promise<void>;
}

function contract(make: () => Promise<Harness>) {
  it('a client id is held by one request of one owner at a time', async () => {
    const { claims } = await make();
    expect(await claims.claim('alice', 'r1', 'srv-1', 15_000)).toBe(true);
    expect(await claims.claim('alice', 'r1', 'srv-2', 15_000)).toBe(false);
    // another owner's identical id is a different claim
    expect(await claims.claim('bob', 'r1', 'srv-3', 15_000)).toBe(true);
  });

  it('owner ids containing the separator cannot collide with another pair', async () => {
    const { claims } = await make();
    expect(await claims.claim('a:b', 'c', 'srv-1', 15_000)).toBe(true);
    expect(await claims.claim('a', 'b:c', 'srv-2', 15_000)).toBe(true);
  });

  it('only the holding request renews or releases; release frees the id', async () => {
    const { claims } = await make();
    await claims.claim('alice', 'r2', 'srv-1', 15_000);
    expect(await claims.renew('alice', 'r2', 'srv-other', 15_000)).toBe(false);
    await claims.release('alice', 'r2', 'srv-other');
    expect(await claims.claim('alice', 'r2', 'srv-2', 15_000)).toBe(false);
    expect(await claims.renew('alice', 'r2', 'srv-1', 15_000)).toBe(true);
    await claims.release('alice', 'r2', 'srv-1');
    expect(await claims.claim('alice', 'r2', 'srv-2', 15_000)).toBe(true);
  });

  it('a claim whose holder vanished frees itself when its lease ends', async () => {
    const { claims, expire } = await make();
    expect(await claims.claim('alice', 'r3', 'srv-dead', 50)).toBe(true);
    await expire();
    expect(await claims.claim('alice', 'r3', 'srv-2', 15_000)).toBe(true);
    expect(await claims.renew('alice', 'r3', 'srv-dead', 15_000)).toBe(false);
  });

  it('a request whose renewal came after its lease lapsed takes its id back', async () => {
    const { claims, expire } = await make();
    expect(await claims.claim('alice', 'r3', 'srv-slow', 50)).toBe(true);
    await expire();
    // still running: the late renewal re-takes the id, so a duplicate is 409 again
    expect(await claims.renew('alice', 'r3', 'srv-slow', 15_000)).toBe(true);
    expect(await claims.claim('alice', 'r3', 'srv-dup', 15_000)).toBe(false);
    await claims.release('alice', 'r3', 'srv-slow');
    expect(await claims.claim('alice', 'r3', 'srv-next', 15_000)).toBe(true);
  });
}

describe('MemoryRequestClaims', () => {
  contract(() => {
    let now = 1_000;
    return Promise.resolve({
      claims: new MemoryRequestClaims(() => now),
      expire: () => {
        now += 51;
        return Promise.resolve();
      },
    });
  });
});

describe('RedisRequestClaims', () => {
  let client: Redis;
  const prefixes: string[] = [];
  beforeAll(() => {
    client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteRedisPrefix(client, p);
    await client.quit();
  });
  contract(() => {
    const prefix = uniqueRedisPrefix('claims');
    prefixes.push(prefix);
    return Promise.resolve({
      claims: new RedisRequestClaims(client, prefix),
      // waits on the observable condition: Redis expired the claim
      expire: async () => {
        while ((await client.exists(`${prefix}5:alice:r3`)) === 1)
          await new Promise((r) => setImmediate(r));
      },
    });
  });
});
