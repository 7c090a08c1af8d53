import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ModulesContainer } from '@nestjs/core';
import { ApiKeyService } from '@switchboard/auth';
import { UsageLedger } from '@switchboard/billing';
import { loadConfig } from '@switchboard/config';
import { DATABASE, type Database } from '@switchboard/storage';
import pino from 'pino';
import { createGateway } from '../src/bootstrap';
import {
  ADMIN_KEY,
  auth,
  chatBody,
  postJson,
  startHarness,
  type Harness,
} from './gateway.harness';

/**
 * The app is wired one way: AppModule imports one module per domain lib. A
 * dynamic module imported by several others (identity into billing,
 * datasources and assistants) must still be one instance, or each importer
 * would hold its own API key cache, ledger or worker.
 */
describe('app wiring', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('holds exactly one instance of each domain module', () => {
    const names = [...h.gateway.app.get(ModulesContainer).values()].map((m) => m.metatype.name);
    for (const name of [
      'StorageModule',
      'IdentityModule',
      'RateLimitModule',
      'BillingModule',
      'DatasourcesModule',
      'RagModule',
      'AssistantsModule',
      'ResponsesModule',
      'ConversationsModule',
      'LlmModule',
    ])
      expect(names.filter((n) => n === name)).toEqual([name]);
  });

  it('shares one API key service and one ledger between every module that uses them', () => {
    const app = h.gateway.app;
    const keys = new Set<unknown>();
    const ledgers = new Set<unknown>();
    for (const m of app.get(ModulesContainer).values()) {
      const k = m.providers.get(ApiKeyService)?.instance;
      if (k) keys.add(k);
      const l = m.providers.get(UsageLedger)?.instance;
      if (l) ledgers.add(l);
    }
    expect(keys.size).toBe(1);
    expect(ledgers.size).toBe(1);
  });

  it('serves a chat on the embedded database and records its usage row', async () => {
    const res = await postJson(`${h.url}/chat`, chatBody('hi\n#sim tokens=3'), auth);
    expect(res.status).toBe(200);
    await res.text();
    const db = h.gateway.app.get<Database>(DATABASE);
    expect(db.kind).toBe('pglite');
    await h.gateway.app.get(UsageLedger).flush({ timeoutMs: 10_000 });
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_ledger');
    expect(rows.rows[0].n).toBeGreaterThanOrEqual(1);
  });
});

describe('a boot that fails while the app is built', () => {
  it('has migrated and closed the database it opened: the next boot finds it ready', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sb-wiring-'));
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const config = (extra: Record<string, string>) =>
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        ADMIN_API_KEY: ADMIN_KEY,
        LOG_LEVEL: 'silent',
        ...extra,
      });
    try {
      // nothing listens there: Redis is never ready
      await expect(
        createGateway(config({ REDIS_URL: 'redis://127.0.0.1:1' }), { logger }),
      ).rejects.toThrow(/redis not ready/);
      expect(lines.some((l) => l.includes('applied migrations'))).toBe(true);
      lines.length = 0;
      const gw = await createGateway(config({}), { logger });
      try {
        expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
        expect(lines.some((l) => l.includes('applied migrations'))).toBe(false);
      } finally {
        await gw.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
