import type { Provider } from '@nestjs/common';
import { BudgetSeeder } from '@switchboard/billing';
import { APP_CONFIG, type AppConfig } from '@switchboard/config';
import { BLOB_STORE, type BlobStore } from '@switchboard/datasources';
import { RetrievalService } from '@switchboard/rag';
import {
  FailOpenTally,
  RateLimitService,
  REQUEST_CLAIMS,
  type RequestClaims,
} from '@switchboard/rate-limit';
import { DATABASE, RedisConnection, type Database } from '@switchboard/storage';
import {
  DEPENDENCIES,
  READINESS_CHECKS,
  type Dependencies,
  type ReadinessCheck,
} from './health.controller';

export interface DependencyState {
  name: 'database' | 'redis';
  up: boolean;
  details: Record<string, unknown>;
}

/**
 * Reachability of the database and the cache as last observed by real traffic,
 * with no probe query: the ALB checks every few seconds, which would keep Aurora
 * Serverless from ever pausing and turn a blip into a failed check. Feeds /ready's
 * details, the DependenciesDown metric and its alarm.
 */
function dependencies(db: Database, redis: RedisConnection | null): () => DependencyState[] {
  return () => [
    {
      name: 'database',
      up: db.connectionState().up,
      details: { kind: db.kind, vector: db.hasVector, ...db.connectionState() },
    },
    ...(redis
      ? [{ name: 'redis' as const, up: redis.up, details: { connection: redis.status } }]
      : []),
  ];
}

export const healthProviders: Provider[] = [
  {
    provide: DEPENDENCIES,
    inject: [DATABASE, RedisConnection],
    useFactory: (db: Database, redis: RedisConnection | null): Dependencies =>
      dependencies(db, redis),
  },
  {
    provide: READINESS_CHECKS,
    inject: [
      APP_CONFIG,
      DEPENDENCIES,
      RedisConnection,
      RateLimitService,
      BudgetSeeder,
      REQUEST_CLAIMS,
      FailOpenTally,
      RetrievalService,
      BLOB_STORE,
    ],
    useFactory: (
      config: AppConfig,
      deps: () => DependencyState[],
      redis: RedisConnection | null,
      rateLimits: RateLimitService,
      seeder: BudgetSeeder,
      claims: RequestClaims,
      failOpen: FailOpenTally,
      retrieval: RetrievalService,
      blobs: BlobStore,
    ): ReadinessCheck[] => [
      ...deps().map(({ name }): ReadinessCheck => (indicator) => {
        const state = deps().find((d) => d.name === name);
        const i = indicator.check(name);
        return Promise.resolve(
          state?.up ? i.up(state.details) : i.down({ ...state?.details, reachable: false }),
        );
      }),
      (indicator) =>
        Promise.resolve(
          indicator.check('policies').up({
            rateLimits: rateLimits.describe(),
            budgets: {
              backend: redis ? 'redis' : 'memory',
              failOpen: config.budgets.failOpen,
              reseeding: seeder.seeding,
            },
            requestClaims: { backend: claims.backend },
            admission: failOpen.snapshot(),
          }),
        ),
      async (indicator) =>
        indicator.check('retrieval').up({
          ...(await retrieval.describe()),
          blobStore: blobs.kind,
          ingestionWorker: config.rag.ingestionWorker,
        }),
    ],
  },
];
