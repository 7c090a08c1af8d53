import { Redis } from 'ioredis';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@switchboard/storage/testing';
import { RedisLimitsVersion } from './limits-version';

describe('RedisLimitsVersion', () => {
  let client: Redis;
  const prefix = uniqueRedisPrefix('limits-version');
  beforeAll(() => {
    client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await deleteRedisPrefix(client, prefix);
    await client.quit();
  });

  it('a change after Redis lost the version never reads as a version seen before the loss', async () => {
    const key = `${prefix}version`;
    const version = new RedisLimitsVersion(client, key);
    expect(await version.current()).toBe('unset');
    await version.bump();
    // a replica caches settings under this version, then sees no traffic for a while
    const cachedUnder = await version.current();
    expect(cachedUnder).not.toBe('unset');
    await client.del(key); // Redis restarted empty, failed over or evicted the key
    await version.bump(); // an admin lowers a budget
    const afterChange = await version.current();
    expect(afterChange).not.toBe('unset');
    expect(afterChange).not.toBe(cachedUnder);
    await version.bump();
    expect(await version.current()).not.toBe(afterChange);
  });
});
