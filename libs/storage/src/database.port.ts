/**
 * The one relational port. Both adapters (PGlite embedded, PostgreSQL via `pg`)
 * speak the same Postgres dialect with `$1`-style parameters.
 */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export interface Database extends Queryable {
  /** 'pglite' (embedded) or 'postgres' (DATABASE_URL) */
  readonly kind: 'pglite' | 'postgres';
  /** whether the pgvector extension is available */
  readonly hasVector: boolean;
  /** runs fn in one transaction on one connection; rolls back if fn throws */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** cheap liveness probe (runs a query) */
  ping(): Promise<void>;
  /**
   * Calls `onNotify` for every NOTIFY on `channel` (a lower-case SQL
   * identifier) from any connection, once the notifying transaction commits.
   * After a lost connection is re-established it is called with '' (anything
   * sent meanwhile was missed). Resolves with the function that stops listening.
   */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * What the last database round trip said, without running a query: health checks read
   * this, so they never wake a paused Aurora Serverless cluster or add load.
   */
  connectionState(): DatabaseConnectionState;
  close(): Promise<void>;
}

export const DATABASE = Symbol('DATABASE');

/** LISTEN/NOTIFY channel names are interpolated into SQL: identifiers only. */
export function assertChannel(channel: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel))
    throw new Error(`invalid notification channel "${channel}"`);
}

/**
 * A schema migration. Each domain lib owns its migrations and exports them as an
 * array; the app composes them and the migrator applies them in `id` order, once.
 * Ids are globally unique and sortable: `<4 digits>_<domain>_<name>`.
 */
export interface Migration {
  id: string;
  /** Postgres DDL; must work on PostgreSQL 15+ and PGlite */
  up: string;
  /** set when the statement needs pgvector; skipped (and recorded) when it is absent */
  requiresVector?: boolean;
}

export interface DatabaseConnectionState {
  /** false after a connection-level failure, until the next round trip succeeds */
  up: boolean;
  /** epoch ms of the last successful round trip */
  lastOkAt?: number;
  /** epoch ms and message of the last connection-level failure */
  lastFailureAt?: number;
  lastError?: string;
}
