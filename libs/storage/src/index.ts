export * from './database.port';
export * from './pglite.database';
export * from './postgres.database';
export * from './create-database';
export * from './migrator';
export * from './redis.connection';
export * from './storage.module';
export type { StorageLogger } from './storage.logger';
export { parseInt8 } from './int8';
