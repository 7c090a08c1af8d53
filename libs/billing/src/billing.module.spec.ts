import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { StorageModule } from '@switchboard/storage';
import {
  createTestPostgres,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
  type TestPostgres,
} from '@switchboard/storage/testing';
import { billingMigrations } from './billing.migrations';
import { bucketsAt } from './budget-periods';
import { BudgetRepository } from './budget.repository';
import { BUDGET_STORE, type BudgetStore } from './budget-store.port';
import { BudgetService } from './budget.service';
import { InProcessBudgetStore } from './in-process-budget.store';
import { RedisBudgetStore } from './redis-budget.store';
import { BillingModule } from './billing.module';
import { UsageLedger } from './usage-ledger.service';
import { UsageReports } from './usage-reports.service';

const usageRow = (
  requestId: string,
  userId: string,
  costMicros: number,
  status: 'complete' | 'cancelled',
) => ({
  requestId,
  attempt: 0,
  userId,
  model: 'm',
  provider: 'p',
  inputTokens: 1,
  cachedInputTokens: 0,
  outputTokens: 2,
  reasoningTokens: 0,
  costMicros,
  status,
  durationMs: 4,
});

describe('BillingModule', () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await createTestPostgres({ poolSize: 1 });
  });
  afterAll(() => pg.drop());

  async function boot(redisUrl?: string) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        StorageModule.forRoot({
          database: { dataDir: 'unused', url: pg.url, poolSize: 2 },
          redisUrl,
          migrations: billingMigrations,
        }),
        BillingModule.forRoot({
          redisPrefix: uniqueRedisPrefix('billing-module'),
          ledger: { flushIntervalMs: 60_000 },
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('uses the Redis budget store when REDIS is provided and flushes the ledger before the database closes', async () => {
    const app = await boot(TEST_REDIS_URL);
    expect(app.get(BUDGET_STORE)).toBeInstanceOf(RedisBudgetStore);
    expect(app.get(BudgetService)).toBeInstanceOf(BudgetService);
    expect(app.get(UsageReports)).toBeInstanceOf(UsageReports);
    app.get(UsageLedger).record(usageRow('shutdown-row', 'u', 3, 'cancelled'));
    await app.close();
    const c = new Client({ connectionString: pg.url });
    await c.connect();
    try {
      const r = await c.query<{ status: string }>(
        "SELECT status FROM usage_ledger WHERE request_id = 'shutdown-row'",
      );
      expect(r.rows).toEqual([{ status: 'cancelled' }]);
    } finally {
      await c.end();
    }
  });

  it('re-seeds spend from the ledger at boot, before the app serves, when Redis has nothing', async () => {
    const userId = `seeded-${Date.now()}`;
    const first = await boot(TEST_REDIS_URL);
    await first.get(BudgetRepository).set({
      scopeType: 'user',
      scopeId: userId,
      period: 'month',
      limitMicros: 1_000_000,
    });
    first.get(UsageLedger).record(usageRow(`${userId}-row`, userId, 7_000, 'complete'));
    await first.close();
    // a new key prefix: the store of the second boot starts empty, as after a flush
    const second = await boot(TEST_REDIS_URL);
    try {
      const store = second.get<BudgetStore>(BUDGET_STORE);
      expect(await store.isSeeded()).toBe(true);
      const now = Date.now();
      const usage = await store.usage('user', userId, bucketsAt(now).month, now);
      expect(usage.spentMicros).toBe(7_000);
    } finally {
      await second.close();
    }
  });

  it('falls back to the in-process budget store without Redis', async () => {
    const app = await boot(undefined);
    expect(app.get(BUDGET_STORE)).toBeInstanceOf(InProcessBudgetStore);
    await app.close();
  });
});
