import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DATABASE, type Database, REDIS } from '@switchboard/storage';
import type { BillingLogger } from './billing.logger';
import { BudgetHoldJournal } from './budget-hold.journal';
import { BudgetSeeder } from './budget-seeder';
import { BUDGET_STORE, type BudgetStore } from './budget-store.port';
import { BudgetRepository } from './budget.repository';
import { BudgetService } from './budget.service';
import { InProcessBudgetStore } from './in-process-budget.store';
import { RedisBudgetStore } from './redis-budget.store';
import { UsageLedger, type UsageLedgerOptions } from './usage-ledger.service';
import { UsageReports } from './usage-reports.service';

export const BILLING_OPTIONS = Symbol('BILLING_OPTIONS');

export interface BillingModuleOptions {
  ledger?: Omit<UsageLedgerOptions, 'logger' | 'now'>;
  /** Redis key prefix for budgets (default `sb:{budget}:`) */
  redisPrefix?: string;
  /** ms the shutdown flush may take (default 10 s) */
  shutdownFlushTimeoutMs?: number;
  /**
   * Keys whose spend also counts against a key's budget (the keys it minted),
   * for seeding spend from the ledger.
   */
  keysUnder?: (keyId: string) => Promise<string[]>;
  /** how often settled rows leave the hold journal (default 5 min) */
  journalPruneEveryMs?: number;
  /** how soon an eviction of budget keys is noticed (default 2 s) */
  evictionCheckEveryMs?: number;
  /** where the ledger and the seeder log (default: Nest's logger) */
  logger?: (component: 'ledger' | 'budgets') => BillingLogger;
}

export interface BillingModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => BillingModuleOptions | Promise<BillingModuleOptions>;
}

const nestLogger = (component: string): BillingLogger => new Logger(component);

/**
 * Boot: spend and open holds are rebuilt from the ledger before the app serves
 * (the store keeps nothing across restarts), then the journal is pruned and, on
 * Redis, evictions are watched. Shutdown: the ledger is flushed once the HTTP
 * server has closed (so in-flight usage rows are in it), before storage closes
 * the database.
 */
@Injectable()
export class BillingLifecycle implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly ledger: UsageLedger,
    private readonly seeder: BudgetSeeder,
    private readonly journal: BudgetHoldJournal,
    @Inject(BUDGET_STORE) private readonly store: BudgetStore,
    @Inject(BILLING_OPTIONS) private readonly opts: BillingModuleOptions,
    @Inject(REDIS) private readonly redis: Redis | null,
  ) {}

  async onModuleInit(): Promise<void> {
    const log = (this.opts.logger ?? nestLogger)('budgets');
    await this.seeder.seed();
    if (this.redis) await warnUnlessNoEviction(this.redis, log);
    // settled hold rows are only needed until the ledger has their cost
    this.#every(this.opts.journalPruneEveryMs ?? 5 * 60_000, () =>
      this.journal
        .prune()
        .catch((e: unknown) => log.warn(`budget hold journal prune failed: ${String(e)}`)),
    );
    // eviction may take a spend counter and leave the seed marker: treat any as loss
    const store = this.store;
    if (store instanceof RedisBudgetStore)
      this.#every(this.opts.evictionCheckEveryMs ?? 2_000, () =>
        store
          .dropSeedIfEvicted()
          .then((dropped) => {
            if (!dropped) return;
            log.error(
              'Redis evicted keys: budgets may have lost spend; re-seeding from the ledger',
            );
            return this.seeder.seed();
          })
          .catch((e: unknown) => log.warn(`budget eviction check failed: ${String(e)}`)),
      );
  }

  onModuleDestroy(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  async onApplicationShutdown(): Promise<void> {
    await this.ledger
      .flush({ timeoutMs: this.opts.shutdownFlushTimeoutMs ?? 10_000 })
      .catch((e: unknown) =>
        (this.opts.logger ?? nestLogger)('ledger').error(`ledger flush failed: ${String(e)}`),
      );
    this.ledger.close();
  }

  #every(ms: number, run: () => Promise<unknown>): void {
    const t = setInterval(() => void run(), ms);
    t.unref();
    this.#timers.push(t);
  }
}

/**
 * Budget keys must never be evicted: an evicted spend counter is a budget reset.
 * Managed services (ElastiCache) refuse CONFIG; then the operator's setting is
 * trusted and the seed marker still catches a wholesale loss.
 */
async function warnUnlessNoEviction(redis: Redis, log: BillingLogger): Promise<void> {
  try {
    const r = await redis.config('GET', 'maxmemory-policy');
    const policy = r[1];
    if (policy && policy !== 'noeviction')
      log.warn(
        `Redis maxmemory-policy is ${policy}, not noeviction: evicted budget keys would under-count spend`,
      );
  } catch {
    // CONFIG is disabled on managed Redis/Valkey
  }
}

const providers: Provider[] = [
  {
    provide: UsageLedger,
    inject: [DATABASE, BILLING_OPTIONS],
    useFactory: (db: Database, opts: BillingModuleOptions) =>
      new UsageLedger(db, { ...opts.ledger, logger: (opts.logger ?? nestLogger)('ledger') }),
  },
  { provide: UsageReports, inject: [DATABASE], useFactory: (db: Database) => new UsageReports(db) },
  {
    provide: BudgetRepository,
    inject: [DATABASE],
    useFactory: (db: Database) => new BudgetRepository(db),
  },
  {
    // With Redis the store refuses reservations whenever its seed marker is gone
    // (data lost), until spend and open holds are restored from PostgreSQL.
    provide: BUDGET_STORE,
    inject: [BILLING_OPTIONS, REDIS],
    useFactory: (opts: BillingModuleOptions, redis: Redis | null): BudgetStore =>
      redis
        ? new RedisBudgetStore(redis, { prefix: opts.redisPrefix, requireSeed: true })
        : new InProcessBudgetStore(),
  },
  {
    provide: BudgetService,
    inject: [BUDGET_STORE],
    useFactory: (store: BudgetStore) => new BudgetService(store),
  },
  {
    // in-process budgets die with the process: nothing to restore, nothing to journal
    provide: BudgetHoldJournal,
    inject: [DATABASE, REDIS],
    useFactory: (db: Database, redis: Redis | null) =>
      new BudgetHoldJournal(db, { enabled: redis !== null }),
  },
  {
    provide: BudgetSeeder,
    inject: [BUDGET_STORE, BudgetRepository, UsageLedger, BudgetHoldJournal, BILLING_OPTIONS],
    useFactory: (
      store: BudgetStore,
      repo: BudgetRepository,
      ledger: UsageLedger,
      journal: BudgetHoldJournal,
      opts: BillingModuleOptions,
    ) =>
      new BudgetSeeder(store, repo, ledger, journal, {
        logger: (opts.logger ?? nestLogger)('budgets'),
        keysUnder: opts.keysUnder,
      }),
  },
  BillingLifecycle,
];

const exported = [
  UsageLedger,
  UsageReports,
  BudgetService,
  BudgetRepository,
  BUDGET_STORE,
  BudgetHoldJournal,
  BudgetSeeder,
];

/**
 * Usage ledger, reports, budgets, the hold journal and the seeder. Needs
 * DATABASE and REDIS from StorageModule (REDIS null = in-process budgets): with
 * Redis, budgets are shared by all replicas and fail closed until seeded.
 */
@Module({})
export class BillingModule {
  static forRoot(options: BillingModuleOptions = {}): DynamicModule {
    return {
      module: BillingModule,
      providers: [{ provide: BILLING_OPTIONS, useValue: options }, ...providers],
      exports: exported,
    };
  }

  static forRootAsync(options: BillingModuleAsyncOptions): DynamicModule {
    return {
      module: BillingModule,
      imports: options.imports ?? [],
      providers: [
        { provide: BILLING_OPTIONS, inject: options.inject ?? [], useFactory: options.useFactory },
        ...providers,
      ],
      exports: exported,
    };
  }
}
