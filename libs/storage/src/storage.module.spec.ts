import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { DATABASE, type Database } from './database.port';
import { createDatabase } from './create-database';
import { REDIS, RedisConnection } from './redis.connection';
import { StorageModule } from './storage.module';
import { PgliteDatabase } from './pglite.database';
import { createTestPglite, pgliteTemplate } from './testing/pglite-template';
import { TEST_POSTGRES_URL } from './testing/postgres-test-database';
import { TEST_REDIS_URL } from './testing/redis-test';

@Injectable()
class Consumer {
  constructor(
    @Inject(DATABASE) readonly db: Database,
    @Optional() @Inject(REDIS) readonly redis: Redis | null,
  ) {}
}

describe('StorageModule', () => {
  it('provides a migrated DATABASE and REDIS, and closes both on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        StorageModule.forRoot({
          database: { dataDir: 'unused', inMemory: true },
          useDatabase: await createTestPglite(),
          redisUrl: TEST_REDIS_URL,
          migrations: [{ id: '0001_test_t', up: 'CREATE TABLE t (x int)' }],
        }),
      ],
      providers: [Consumer],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const { db, redis } = app.get(Consumer);
    expect(db.kind).toBe('pglite');
    await db.query('INSERT INTO t VALUES (1)');
    expect(redis).not.toBeNull();
    expect(await redis!.ping()).toBe('PONG');
    const conn = app.get(RedisConnection);

    await app.close();
    await expect(db.ping()).rejects.toThrow();
    expect(conn.client.status).toBe('end');
  });

  it('provides REDIS as null without a Redis URL (in-process mode)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        StorageModule.forRootAsync({
          useFactory: () => ({
            database: { dataDir: 'unused', url: TEST_POSTGRES_URL, poolSize: 1 },
          }),
        }),
      ],
      providers: [Consumer],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const { db, redis } = app.get(Consumer);
    expect(db.kind).toBe('postgres');
    expect(redis).toBeNull();
    await app.close();
  });
});

describe('createDatabase', () => {
  it('persists the embedded database in <dataDir>/pglite across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-pglite-'));
    try {
      // first boot seeded from the template (a cold initdb on disk takes seconds)
      const first = await PgliteDatabase.create({
        dataDir: join(dir, 'pglite'),
        loadDataDir: await pgliteTemplate(),
      });
      await first.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
      await first.close();
      const second = await createDatabase({ dataDir: dir });
      expect(second.kind).toBe('pglite');
      const r = await second.query<{ v: string }>('SELECT v FROM kept');
      expect(r.rows).toEqual([{ v: 'still here' }]);
      expect(second.hasVector).toBe(true);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
