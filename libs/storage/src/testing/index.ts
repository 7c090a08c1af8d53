// Test helpers: throwaway PostgreSQL databases, in-memory PGlite, Redis key prefixes.
// Imported as `@switchboard/storage/testing`; never part of the production entry point.
export * from './pglite-template';
export * from './postgres-test-database';
export * from './redis-test';
