import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type Provider,
} from '@nestjs/common';
import type { Redis } from 'ioredis';
import { DATABASE, type Database, REDIS } from '@switchboard/storage';
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
}

@Injectable()
export class BillingLifecycle implements BeforeApplicationShutdown {
  constructor(
    private readonly ledger: UsageLedger,
    @Inject(BILLING_OPTIONS) private readonly opts: BillingModuleOptions,
  ) {}

  // Before onApplicationShutdown, where storage closes the database.
  async beforeApplicationShutdown(): Promise<void> {
    await this.ledger.flush({ timeoutMs: this.opts.shutdownFlushTimeoutMs ?? 10_000 });
    this.ledger.close();
  }
}

const logger = new Logger('Billing');

const providers: Provider[] = [
  {
    provide: UsageLedger,
    inject: [DATABASE, BILLING_OPTIONS],
    useFactory: (db: Database, opts: BillingModuleOptions) =>
      new UsageLedger(db, { ...opts.ledger, logger }),
  },
  { provide: UsageReports, inject: [DATABASE], useFactory: (db: Database) => new UsageReports(db) },
  {
    provide: BudgetRepository,
    inject: [DATABASE],
    useFactory: (db: Database) => new BudgetRepository(db),
  },
  {
    provide: BUDGET_STORE,
    inject: [BILLING_OPTIONS, { token: REDIS, optional: true }],
    useFactory: (opts: BillingModuleOptions, redis?: Redis | null): BudgetStore =>
      redis
        ? new RedisBudgetStore(redis, { prefix: opts.redisPrefix })
        : new InProcessBudgetStore(),
  },
  {
    provide: BudgetService,
    inject: [BUDGET_STORE],
    useFactory: (store: BudgetStore) => new BudgetService(store),
  },
  BillingLifecycle,
];

/**
 * Usage ledger, reports and budgets. Needs DATABASE (and optionally REDIS) from
 * StorageModule; with a REDIS client budgets are shared by all replicas,
 * without one they live in this process.
 */
@Module({})
export class BillingModule {
  static forRoot(options: BillingModuleOptions = {}): DynamicModule {
    return {
      module: BillingModule,
      providers: [{ provide: BILLING_OPTIONS, useValue: options }, ...providers],
      exports: [UsageLedger, UsageReports, BudgetService, BudgetRepository, BUDGET_STORE],
    };
  }
}
