import {
  AccountService,
  ApiKeyCredentialVerifier,
  ApiKeyService,
  JwtCredentialVerifier,
  JwtVerifierSet,
  SqlAccountRepository,
  SqlApiKeyRepository,
  createJwtVerifiers,
  identityMigrations,
  loadOrCreateApiKeySecret,
  type CredentialVerifier,
} from '@switchboard/auth';
import {
  BudgetRepository,
  BudgetService,
  InProcessBudgetStore,
  RedisBudgetStore,
  UsageLedger,
  UsageReports,
  billingMigrations,
} from '@switchboard/billing';
import type { AppConfig } from '@switchboard/config';
import { MemoryLimitStore, RateLimitService, RedisLimitStore } from '@switchboard/rate-limit';
import {
  Migrator,
  RedisConnection,
  createDatabase,
  type Database,
  type Migration,
} from '@switchboard/storage';
import type { HealthIndicatorService } from '@nestjs/terminus';
import type { Logger } from 'pino';
import type { ReadinessCheck } from '../health/health.controller';

/** Everything with I/O that the request path needs, built once at boot in dependency order. */
export interface Infrastructure {
  db: Database;
  redis?: RedisConnection;
  apiKeys: ApiKeyService;
  accounts: AccountService;
  verifiers: CredentialVerifier[];
  rateLimits: RateLimitService;
  budgets: BudgetService;
  budgetRepo: BudgetRepository;
  ledger: UsageLedger;
  reports: UsageReports;
  readinessChecks: ReadinessCheck[];
  /** flushes the ledger and last-used times, then closes connections */
  close(): Promise<void>;
}

export function allMigrations(extra: Migration[] = []): Migration[] {
  return [...identityMigrations, ...billingMigrations, ...extra].sort((a, b) =>
    a.id.localeCompare(b.id),
  );
}

function check(
  name: string,
  probe: () => Promise<unknown>,
  details: Record<string, unknown> = {},
): ReadinessCheck {
  return async (indicator: HealthIndicatorService) => {
    const i = indicator.check(name);
    try {
      await probe();
      return i.up(details);
    } catch {
      return i.down({ ...details, reachable: false });
    }
  };
}

export async function createInfrastructure(
  config: AppConfig,
  logger: Logger,
  extraMigrations: Migration[] = [],
): Promise<Infrastructure> {
  const libLogger = (component: string) => {
    const l = logger.child({ component });
    return {
      log: (m: string) => l.info(m),
      warn: (m: string) => l.warn(m),
      error: (m: string) => l.error(m),
    };
  };
  const db = await createDatabase({
    url: config.storage.databaseUrl?.reveal(),
    dataDir: config.dataDir,
    logger: libLogger('storage'),
  });
  try {
    await new Migrator(db, libLogger('migrator')).migrate(allMigrations(extraMigrations));

    let redis: RedisConnection | undefined;
    if (config.storage.redisUrl) {
      redis = new RedisConnection(config.storage.redisUrl.reveal());
      await redis.waitUntilReady(5000);
    }

    const secret =
      config.auth.apiKeySecret?.reveal() ?? (await loadOrCreateApiKeySecret(config.dataDir));
    const apiKeys = new ApiKeyService(new SqlApiKeyRepository(db), { secret });
    const accounts = new AccountService(new SqlAccountRepository(db));
    const jwtSet = new JwtVerifierSet(
      createJwtVerifiers({
        oidcIssuer: config.auth.oidc?.issuer,
        oidcAudience: config.auth.oidc?.audience,
        oidcJwksUri: config.auth.oidc?.jwksUri,
        oidcUserIdClaim: config.auth.oidc?.userIdClaim,
        cognitoUserPoolId: config.auth.cognito?.userPoolId,
        cognitoClientId: config.auth.cognito?.clientId,
        apiKeySecret: secret,
      }),
    );
    const verifiers: CredentialVerifier[] = [
      new ApiKeyCredentialVerifier(apiKeys),
      new JwtCredentialVerifier(jwtSet, accounts),
    ];

    const rateLimits = new RateLimitService(
      redis ? new RedisLimitStore(redis.client) : new MemoryLimitStore(),
      { failOpen: config.limits.failOpen },
    );
    const budgets = new BudgetService(
      redis ? new RedisBudgetStore(redis.client) : new InProcessBudgetStore(),
    );
    const budgetRepo = new BudgetRepository(db);
    const ledger = new UsageLedger(db, { logger: libLogger('ledger') });
    const reports = new UsageReports(db);

    // Budget spend lives in Redis (or memory), which keeps nothing across restarts:
    // rebuild it from the ledger, the source of truth. Seeding only ever raises.
    const scoped = await budgetRepo.list();
    const uniq = new Map(
      scoped.map((b) => [`${b.scopeType}:${b.scopeId}`, { type: b.scopeType, id: b.scopeId }]),
    );
    await budgets.rebuildFromLedger(ledger, [...uniq.values()]);

    const readinessChecks: ReadinessCheck[] = [
      check('database', () => db.ping(), { kind: db.kind, vector: db.hasVector }),
      ...(redis ? [check('redis', () => redis.ping())] : []),
      (indicator) =>
        Promise.resolve(
          indicator.check('policies').up({
            rateLimits: rateLimits.describe(),
            budgets: { backend: redis ? 'redis' : 'memory', failOpen: config.budgets.failOpen },
          }),
        ),
    ];

    return {
      db,
      redis,
      apiKeys,
      accounts,
      verifiers,
      rateLimits,
      budgets,
      budgetRepo,
      ledger,
      reports,
      readinessChecks,
      close: async () => {
        await ledger
          .flush({ timeoutMs: 10_000 })
          .catch((e: unknown) => logger.error({ err: e }, 'ledger flush failed'));
        ledger.close();
        await apiKeys.close();
        await redis?.close();
        await db.close();
      },
    };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}
