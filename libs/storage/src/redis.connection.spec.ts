import { RedisConnection } from './redis.connection';
import { TEST_REDIS_URL } from './testing/redis-test';

describe('RedisConnection', () => {
  it('answers ping once ready', async () => {
    const conn = new RedisConnection(TEST_REDIS_URL);
    try {
      await conn.waitUntilReady(3_000);
      await expect(conn.ping()).resolves.toBeUndefined();
    } finally {
      await conn.close();
    }
    expect(conn.client.status).toBe('end');
  });

  it('fails calls fast instead of queueing them when Redis is unreachable', async () => {
    // port 1 refuses connections; short timeouts so no timer outlives the test
    const conn = new RedisConnection('redis://127.0.0.1:1', {
      connectTimeoutMs: 100,
      commandTimeoutMs: 100,
    });
    try {
      await expect(conn.waitUntilReady(300)).rejects.toThrow('redis not ready');
      const started = Date.now();
      await expect(conn.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(100);
    } finally {
      await conn.close();
    }
    await new Promise((r) => setTimeout(r, 150));
  });
});
