import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** a key prefix no other test run uses */
export function uniqueRedisPrefix(label = 'test'): string {
  return `sbtest:${label}:${randomBytes(6).toString('hex')}:`;
}

/** deletes every key under `prefix` (SCAN, never FLUSHALL: the server is shared) */
export async function deleteRedisPrefix(client: Redis, prefix: string): Promise<void> {
  // escape glob metacharacters so the pattern matches the prefix literally
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}
