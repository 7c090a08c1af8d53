import { createServer, type Server, type Socket } from 'node:net';
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

  it('fails calls fast instead of queueing them while Redis is not ready', async () => {
    // a server that accepts connections and never answers: a hung Redis
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`, {
      connectTimeoutMs: 100,
      commandTimeoutMs: 100,
    });
    try {
      await expect(conn.waitUntilReady(200)).rejects.toThrow('redis not ready');
      const started = Date.now();
      await expect(conn.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(100);
    } finally {
      await conn.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
