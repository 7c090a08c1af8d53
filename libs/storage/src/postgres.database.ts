import { Client, Pool, type PoolClient, types as pgTypes } from 'pg';
import {
  assertChannel,
  type Database,
  type DatabaseConnectionState,
  type Queryable,
  type QueryResult,
} from './database.port';
import { postgresConnectionOptions } from './postgres-tls';
import { INT8_OID, parseInt8 } from './int8';
import type { StorageLogger } from './storage.logger';

export interface PostgresDatabaseOptions {
  url: string;
  /** maximum connections in the pool (default 10) */
  poolSize?: number;
  /** ms to wait for a free connection before failing (default 10 s) */
  connectionTimeoutMs?: number;
  /** ms after which the server cancels a statement (default: none) */
  statementTimeoutMs?: number;
  /**
   * ms before an idle pooled connection is closed (default 30 s). With no open connection
   * an Aurora Serverless v2 cluster at 0 ACU minimum can pause.
   */
  idleTimeoutMs?: number;
  /** clock for the connection state timestamps (tests) */
  clock?: () => number;
  logger?: StorageLogger;
}

// Per-pool parsers so int8 matches the PGlite adapter without touching the
// process-wide `pg.types` registry other code may rely on.
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : (pgTypes.getTypeParser(oid, format ?? 'text') as unknown)) as typeof pgTypes.getTypeParser,
};

type PgResult<T> = { rows: T[]; rowCount: number | null };

/** several statements in one call yield one result each; like PGlite, keep the last */
function toResult<T>(raw: unknown): QueryResult<T> {
  const r = (Array.isArray(raw) ? raw[raw.length - 1] : raw) as PgResult<T> | undefined;
  if (!r) return { rows: [], rowCount: 0 };
  return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
}

/**
 * Whether an error means the database could not be reached (as opposed to the server
 * answering with an SQL error). SQLSTATE class 08 is a connection exception, 57P0x an
 * administrator or crash shutdown, 53 insufficient resources (too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(08|53|57P0)/.test(code);
  return true;
}

/** PostgreSQL (Aurora, RDS, local) through a `pg` pool. */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  #state: DatabaseConnectionState = { up: true };

  private constructor(
    private readonly pool: Pool,
    readonly hasVector: boolean,
    private readonly opts: PostgresDatabaseOptions,
    private readonly clock: () => number,
  ) {}

  static async connect(opts: PostgresDatabaseOptions): Promise<PostgresDatabase> {
    const { connectionString, ssl } = postgresConnectionOptions(opts.url);
    const pool = new Pool({
      connectionString,
      ssl,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
      idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
      statement_timeout: opts.statementTimeoutMs,
      types: typeParsers,
    });
    // An idle client losing its connection emits on the pool; unhandled, that
    // would crash the process. The pool replaces the client on next checkout.
    pool.on('error', (err) => opts.logger?.error(`postgres idle client error: ${err.message}`));
    try {
      const hasVector = await PostgresDatabase.detectVector(pool);
      const db = new PostgresDatabase(pool, hasVector, opts, opts.clock ?? Date.now);
      db.#state = { up: true, lastOkAt: db.clock() };
      return db;
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Tries to install pgvector (needs the extension files and a privileged role);
   * whatever happens, the answer is whether `pg_extension` lists it afterwards.
   * Several replicas racing on CREATE EXTENSION can see a unique violation; the
   * re-check covers that.
   */
  private static async detectVector(pool: Pool): Promise<boolean> {
    try {
      await pool.query('CREATE EXTENSION IF NOT EXISTS vector');
    } catch {
      // not installed on this server or not permitted: decided by the check below
    }
    const r = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'",
    );
    return (r.rows[0]?.n ?? 0) > 0;
  }

  connectionState(): DatabaseConnectionState {
    return { ...this.#state };
  }

  /** Records what a round trip said about reachability; rethrows its error. */
  private async observe<R>(work: () => Promise<R>): Promise<R> {
    try {
      const r = await work();
      this.#state = { ...this.#state, up: true, lastOkAt: this.clock() };
      return r;
    } catch (err) {
      if (isConnectionError(err)) {
        this.#state = {
          ...this.#state,
          up: false,
          lastFailureAt: this.clock(),
          lastError: err instanceof Error ? err.message : String(err),
        };
      } else {
        this.#state = { ...this.#state, up: true, lastOkAt: this.clock() };
      }
      throw err;
    }
  }

  async query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<T>> {
    const r = await this.observe(() => this.pool.query(sql, params));
    return toResult<T>(r);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.observe(() => this.pool.connect());
    const q: Queryable = {
      query: async <R>(sql: string, params?: unknown[]) => {
        const r = await client.query(sql, params);
        return toResult<R>(r);
      },
    };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // the connection is unusable; destroy it instead of returning it to the pool
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<void> {
    await this.observe(() => this.pool.query('SELECT 1'));
  }

  /**
   * One dedicated connection per listener (a pooled one would be handed to
   * queries). A lost connection is re-established every second until it
   * works, then `onNotify('')` reports that notifications may have been missed.
   */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    assertChannel(channel);
    let stopped = false;
    let client: Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    const reconnectLater = () => {
      if (stopped || retry) return;
      retry = setTimeout(() => {
        retry = undefined;
        connect().then(
          () => onNotify(''),
          () => reconnectLater(),
        );
      }, 1000);
      retry.unref();
    };
    const connect = async () => {
      const c = new Client({
        connectionString: this.opts.url,
        connectionTimeoutMillis: this.opts.connectionTimeoutMs ?? 10_000,
        types: typeParsers,
      });
      let lost = false;
      const onLost = (err?: Error) => {
        if (lost) return;
        lost = true;
        if (client === c) client = undefined;
        if (err) this.opts.logger?.error(`postgres listener on ${channel}: ${err.message}`);
        c.end().catch(() => undefined);
        reconnectLater();
      };
      c.on('notification', (n) => {
        if (n.channel === channel) onNotify(n.payload ?? '');
      });
      c.on('error', onLost);
      c.on('end', () => onLost());
      try {
        await c.connect();
        await c.query(`LISTEN ${channel}`);
      } catch (err) {
        lost = true;
        await c.end().catch(() => undefined);
        throw err;
      }
      if (stopped) {
        lost = true;
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
    };
    await connect();
    return async () => {
      stopped = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}
