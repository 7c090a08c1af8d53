export * from './database.port';
export * from './pglite.database';
export * from './postgres.database';
export * from './postgres-tls';
export * from './create-database';
export * from './migrator';
export * from './redis.connection';
export * from './storage.module';
export type { StorageLogger } from './storage.logger';
export { parseInt8 } from './int8';
// test helpers (no test-framework imports; safe in production bundles)
export * from './testing/pglite-template';
export * from './testing/postgres-test-database';
export * from './testing/redis-test';
