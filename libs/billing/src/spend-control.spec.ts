import { waitFor } from '@switchboard/common/testing';
import {
  AccountService,
  ApiKeyService,
  MAX_MINTING_ANCESTORS,
  SqlAccountRepository,
  SqlApiKeyRepository,
  identityMigrations,
  type Principal,
} from '@switchboard/auth';
import { BudgetHoldJournal } from './budget-hold.journal';
import { BudgetRepository } from './budget.repository';
import { BudgetSeeder } from './budget-seeder';
import { BudgetService } from './budget.service';
import { InProcessBudgetStore } from './in-process-budget.store';
import { UsageLedger } from './usage-ledger.service';
import { billingMigrations } from './billing.migrations';
import { AppError } from '@switchboard/common';
import { loadConfig } from '@switchboard/config';
import { MetricsService } from '@switchboard/observability';
import { MemoryLimitStore, RateLimitService } from '@switchboard/rate-limit';
import { Migrator, type Database } from '@switchboard/storage';
import { createTestPglite } from '@switchboard/storage/testing';
import { FailOpenTally, MemoryLimitsVersion, MemoryRequestClaims } from '@switchboard/rate-limit';
import { LEASE_MS, SpendControl } from './spend-control.service';

/** a limit store whose slot releases fail, as a Redis timeout would make them */
class FailingReleaseStore extends MemoryLimitStore {
  releases = 0;
  override release(): Promise<void> {
    this.releases++;
    return Promise.reject(new Error('release timed out'));
  }
}

describe('SpendControl: concurrency leases and request-id claims', () => {
  let db: Database;
  let now = 1_700_000_000_000;
  let store: FailingReleaseStore;
  let spend: SpendControl;
  let budgetRepo: BudgetRepository;
  const claims = new MemoryRequestClaims(() => now);
  const principal: Principal = {
    kind: 'user',
    userId: 'release-user',
    accountIds: [],
    scopes: ['chat'],
    limits: {},
  };
  const admit = (requestId: string) =>
    spend.admit({ requestId, principal, holdMicros: 1, estimatedTokens: 1 });

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate([...identityMigrations, ...billingMigrations]);
    store = new FailingReleaseStore(() => now);
    const budgetStore = new InProcessBudgetStore();
    budgetRepo = new BudgetRepository(db);
    const journal = new BudgetHoldJournal(db, { enabled: false });
    const apiKeys = new ApiKeyService(new SqlApiKeyRepository(db), {
      secret: 'spend-control-spec-secret-0123456789abcdef',
      lastUsedFlushMs: 0,
    });
    spend = new SpendControl(
      loadConfig({ RATE_LIMIT_CONCURRENT_STREAMS: '1', LOG_LEVEL: 'silent' }),
      new RateLimitService(store, { logger: { warn: () => undefined } }),
      new BudgetService(budgetStore),
      budgetRepo,
      new AccountService(new SqlAccountRepository(db)),
      apiKeys,
      journal,
      new BudgetSeeder(budgetStore, budgetRepo, new UsageLedger(db), journal),
      new MetricsService(),
      new FailOpenTally(),
      claims,
      new MemoryLimitsVersion(),
    );
  });
  afterAll(() => db.close());

  it('frees the concurrency slot within one short lease, not minutes later', async () => {
    expect(LEASE_MS).toBeLessThanOrEqual(15_000);
    const first = await admit('release-1');
    first.finish(0, 0);
    expect(store.releases).toBe(1);
    // the lost release still holds the one allowed stream...
    const blocked = await admit('release-2').catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(AppError);
    expect((blocked as AppError).code).toBe('rate_limited');
    // ...until its lease runs out
    now += LEASE_MS + 1;
    const next = await admit('release-3');
    next.finish(0, 0);
  });

  it('renews the slot every few seconds while the request lives, so only a lost release lets it lapse', async () => {
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'performance', 'hrtime', 'Date'],
    });
    try {
      now += LEASE_MS + 1; // the slots earlier tests could not release have lapsed
      const live = await admit('renew-1');
      // three renewal periods: far past one lease, the stream still holds its slot
      for (let i = 0; i < 3; i++) {
        now += 5_000;
        await jest.advanceTimersByTimeAsync(5_000);
      }
      const blocked = await admit('renew-2').catch((e: unknown) => e);
      expect((blocked as AppError).code).toBe('rate_limited');
      live.finish(0, 0);
      now += LEASE_MS + 1;
      (await admit('renew-3')).finish(0, 0);
    } finally {
      jest.useRealTimers();
    }
  });

  it("holds the bootstrap admin's requests against the budget of the account it charges", async () => {
    now += LEASE_MS + 1;
    const operator: Principal = {
      kind: 'bootstrap-admin',
      userId: 'bootstrap-admin',
      accountIds: [],
      scopes: ['admin', 'chat'],
      limits: {},
    };
    await budgetRepo.set({
      scopeType: 'account',
      scopeId: 'acct-operated',
      period: 'day',
      limitMicros: 10,
    });
    const charge = (requestId: string) =>
      spend.admit({
        requestId,
        principal: operator,
        accountId: 'acct-operated',
        holdMicros: 6,
        estimatedTokens: 1,
      });
    const first = await charge('op-1');
    // two holds of 6 do not fit a budget of 10, even for the operator
    const second = await charge('op-2').catch((e: unknown) => e);
    expect((second as AppError).code).toBe('budget_exceeded');
    first.finish(2, 1);
    await waitFor(
      async () =>
        await charge('op-3').then(
          (a) => (a.finish(0, 0), true),
          () => false,
        ),
      {
        what: 'the settled hold frees room on the account',
      },
    );
    // no account named: nothing to hold, the operator is not limited
    const free = await spend.admit({
      requestId: 'op-4',
      principal: operator,
      holdMicros: 1_000_000,
      estimatedTokens: 1,
    });
    free.finish(0, 0);
  });

  it('refuses a client id already in flight for the same user, frees it on finish, and never across users', async () => {
    now += LEASE_MS + 1;
    const other: Principal = { ...principal, userId: 'someone-else' };
    const first = await spend.admit({
      requestId: 'srv-a',
      clientRequestId: 'client-1',
      principal: other,
      holdMicros: 1,
      estimatedTokens: 1,
    });
    const dup = await spend
      .admit({
        requestId: 'srv-b',
        clientRequestId: 'client-1',
        principal: other,
        holdMicros: 1,
        estimatedTokens: 1,
      })
      .catch((e: unknown) => e);
    expect((dup as AppError).code).toBe('duplicate_request');
    expect((dup as AppError).status).toBe(409);
    // the same client id of another user is that user's own
    const mine = await spend.admit({
      requestId: 'srv-c',
      clientRequestId: 'client-1',
      principal,
      holdMicros: 1,
      estimatedTokens: 1,
    });
    mine.finish(0, 0);
    first.finish(0, 0);
    first.finish(0, 0); // exactly once: a second finish is a no-op
    expect(claims.size).toBe(0); // released at finish, not left to the lease
    now += LEASE_MS + 1; // the failing store still holds the stream slot until its lease ends
    const again = await spend.admit({
      requestId: 'srv-d',
      clientRequestId: 'client-1',
      principal: other,
      holdMicros: 1,
      estimatedTokens: 1,
    });
    again.finish(0, 0);
    expect(store.releases).toBeGreaterThanOrEqual(4);
  });
});

/** a budget store whose reservations fail, as a Redis outage would make them */
class FailingBudgetStore extends InProcessBudgetStore {
  override reserve(): never {
    throw new Error('budget store timed out');
  }
}

describe('SpendControl: a budget store outage', () => {
  let db: Database;
  const principal: Principal = {
    kind: 'user',
    userId: 'budget-outage-user',
    accountIds: [],
    scopes: ['chat'],
    limits: {},
  };

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate([...identityMigrations, ...billingMigrations]);
    await new BudgetRepository(db).set({
      scopeType: 'user',
      scopeId: principal.userId,
      period: 'total',
      limitMicros: 1_000_000,
    });
  });
  afterAll(() => db.close());

  function spendWith(failOpen: boolean) {
    const budgetStore = new FailingBudgetStore();
    const budgetRepo = new BudgetRepository(db);
    const journal = new BudgetHoldJournal(db, { enabled: false });
    const metrics = new MetricsService();
    const tally = new FailOpenTally();
    const spend = new SpendControl(
      loadConfig({ BUDGET_FAIL_OPEN: String(failOpen), LOG_LEVEL: 'silent' }),
      new RateLimitService(new MemoryLimitStore(), { logger: { warn: () => undefined } }),
      new BudgetService(budgetStore),
      budgetRepo,
      new AccountService(new SqlAccountRepository(db)),
      new ApiKeyService(new SqlApiKeyRepository(db), {
        secret: 'spend-control-spec-secret-0123456789abcdef',
        lastUsedFlushMs: 0,
      }),
      journal,
      new BudgetSeeder(budgetStore, budgetRepo, new UsageLedger(db), journal),
      metrics,
      tally,
      new MemoryRequestClaims(),
      new MemoryLimitsVersion(),
    );
    return { spend, metrics, tally };
  }

  it('fails closed by default: 503, nothing counted as admitted', async () => {
    const { spend, tally } = spendWith(false);
    const e = await spend
      .admit({ requestId: 'outage-1', principal, holdMicros: 10, estimatedTokens: 1 })
      .catch((err: unknown) => err);
    expect((e as AppError).code).toBe('service_unavailable');
    expect(tally.snapshot().failOpen.budget).toBe(0);
  });

  it('with BUDGET_FAIL_OPEN admits without a hold and counts it in /metrics and /ready', async () => {
    const { spend, metrics, tally } = spendWith(true);
    const a = await spend.admit({
      requestId: 'outage-2',
      principal,
      holdMicros: 10,
      estimatedTokens: 1,
    });
    a.finish(5, 1);
    expect(tally.snapshot().failOpen.budget).toBe(1);
    expect(tally.snapshot().lastFailOpenAt).not.toBeNull();
    expect(await metrics.registry.metrics()).toMatch(
      /switchboard_admission_fail_open_total\{check="budget"\} 1/,
    );
  });
});

describe('SpendControl: keys minted by keys', () => {
  let db: Database;
  let apiKeys: ApiKeyService;
  let spend: SpendControl;

  beforeAll(async () => {
    db = await createTestPglite();
    await new Migrator(db).migrate([...identityMigrations, ...billingMigrations]);
    const budgetStore = new InProcessBudgetStore();
    const budgetRepo = new BudgetRepository(db);
    const journal = new BudgetHoldJournal(db, { enabled: false });
    apiKeys = new ApiKeyService(new SqlApiKeyRepository(db), {
      secret: 'spend-control-spec-secret-0123456789abcdef',
      lastUsedFlushMs: 0,
    });
    const accounts = new AccountService(new SqlAccountRepository(db));
    spend = new SpendControl(
      loadConfig({ LOG_LEVEL: 'silent' }),
      new RateLimitService(new MemoryLimitStore(), { logger: { warn: () => undefined } }),
      new BudgetService(budgetStore),
      budgetRepo,
      accounts,
      apiKeys,
      journal,
      new BudgetSeeder(budgetStore, budgetRepo, new UsageLedger(db), journal),
      new MetricsService(),
      new FailOpenTally(),
      new MemoryRequestClaims(),
      new MemoryLimitsVersion(),
    );
  });
  afterAll(async () => {
    await apiKeys.close();
    await db.close();
  });

  it('refuses a key whose minting chain is too deep to follow to its top, rather than cutting it short', async () => {
    const account = await new AccountService(new SqlAccountRepository(db)).create({ name: 'deep' });
    // a chain written before minting was bounded: the root plus MAX + 1 keys below it
    let parent: string | null = null;
    const ids: string[] = [];
    for (let i = 0; i <= MAX_MINTING_ANCESTORS + 1; i++) {
      const { record } = await apiKeys.create({
        ownerUserId: 'deep-user',
        accountId: account.id,
        scopes: ['chat'],
        name: `k${i}`,
        parentKeyId: parent,
      });
      ids.push(record.id);
      parent = record.id;
    }
    expect(await apiKeys.mintingAncestors(ids[ids.length - 1])).toBe(MAX_MINTING_ANCESTORS + 1);
    const admitWith = (keyId: string) =>
      spend.admit({
        requestId: `deep-${keyId}`,
        principal: {
          kind: 'api-key',
          userId: 'deep-user',
          keyId,
          accountIds: [account.id],
          scopes: ['chat'],
          limits: {},
        },
        holdMicros: 1,
        estimatedTokens: 1,
      });
    // MAX keys above it: the whole chain is followed
    (await admitWith(ids[ids.length - 2])).finish(0, 0);
    const e = await admitWith(ids[ids.length - 1]).catch((err: unknown) => err);
    expect((e as AppError).code).toBe('forbidden');
  });
});
