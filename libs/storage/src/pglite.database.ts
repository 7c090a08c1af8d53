import { mkdirSync } from 'node:fs';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { nativeRequire } from '@switchboard/common';
import {
  assertChannel,
  type Database,
  type DatabaseConnectionState,
  type Queryable,
  type QueryResult,
} from './database.port';
import { PGLITE_PARSERS } from './pglite.parsers';

export interface PgliteDatabaseOptions {
  /** directory holding the database files; ignored when `inMemory` */
  dataDir?: string;
  inMemory?: boolean;
  /** start from a `dumpDataDir()` tarball instead of running initdb (tests) */
  loadDataDir?: Blob;
}

type PgliteModule = typeof import('@electric-sql/pglite');
type PgvectorModule = typeof import('@electric-sql/pglite-pgvector');

let modules: { PGlite: PgliteModule['PGlite']; vector: PgvectorModule['vector'] } | undefined;

function pgliteModules() {
  if (!modules) {
    // PGlite loads its WASM and extensions with dynamic import(): see nativeRequire
    const nodeRequire = nativeRequire(__filename);
    modules = {
      PGlite: (nodeRequire('@electric-sql/pglite') as PgliteModule).PGlite,
      vector: (nodeRequire('@electric-sql/pglite-pgvector') as PgvectorModule).vector,
    };
  }
  return modules;
}

interface PgliteLike {
  query<T>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: T[]; rowCount?: number; affectedRows?: number }>;
  exec(sql: string): Promise<Array<{ rows: unknown[]; rowCount?: number; affectedRows?: number }>>;
}

/**
 * Dates are sent as ISO strings: PGlite recognises a Date with `instanceof`,
 * which fails for Dates from another realm (Jest's sandbox), and the server
 * parses the ISO form identically.
 */
export function normaliseParam(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  // an array of scalars (a column of a batch insert) goes as it is
  if (Array.isArray(v)) return v.some(isObject) ? v.map(normaliseParam) : v;
  if (Object.prototype.toString.call(v) === '[object Date]') return (v as Date).toISOString();
  return v;
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null;
}

/**
 * Without parameters the statement goes through the simple-query protocol, like
 * `pg` does, so a migration may hold several statements on both adapters.
 */
async function run<T>(
  target: PgliteLike,
  sql: string,
  params?: unknown[],
): Promise<QueryResult<T>> {
  if (params && params.length > 0) {
    const r = await target.query<T>(sql, params.map(normaliseParam));
    return { rows: r.rows, rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length };
  }
  const results = await target.exec(sql);
  const last = results[results.length - 1];
  if (!last) return { rows: [], rowCount: 0 };
  return {
    rows: last.rows as T[],
    rowCount: last.rowCount ?? last.affectedRows ?? last.rows.length,
  };
}

/**
 * Embedded Postgres (WASM) with pgvector. PGlite is one connection: every
 * top-level query and every transaction runs under PGlite's own transaction
 * mutex, so concurrent callers queue rather than interleave. Inside
 * `transaction(fn)`, use the `tx` handed to `fn`; calling the database itself
 * from within would wait for the transaction to end (deadlock).
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;

  private constructor(
    private readonly pg: PGlite,
    readonly hasVector: boolean,
    readonly dataDir: string | undefined,
  ) {}

  static async create(opts: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
    const inMemory = opts.inMemory ?? !opts.dataDir;
    const dataDir = inMemory ? undefined : opts.dataDir;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const { PGlite, vector } = pgliteModules();
    const pg = await PGlite.create({
      dataDir: dataDir ?? 'memory://',
      extensions: { vector },
      loadDataDir: opts.loadDataDir,
      parsers: PGLITE_PARSERS,
    });
    let hasVector: boolean;
    try {
      await pg.exec('CREATE EXTENSION IF NOT EXISTS vector');
      hasVector = true;
    } catch {
      hasVector = false;
    }
    return new PgliteDatabase(pg, hasVector, dataDir);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return run<T>(this.pg, sql, params);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (tx: Transaction) => {
      const q: Queryable = {
        query: <R>(sql: string, params?: unknown[]) => run<R>(tx, sql, params),
      };
      return fn(q);
    });
  }

  async ping(): Promise<void> {
    await this.pg.query('SELECT 1');
  }

  /** In-process: PGlite delivers NOTIFY to its own listeners after the commit. */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    assertChannel(channel);
    const stop = await this.pg.listen(channel, onNotify);
    return async () => {
      if (!this.pg.closed) await stop();
    };
  }

  /** embedded: in this process, up for as long as the process is */
  connectionState(): DatabaseConnectionState {
    return { up: true };
  }

  /** a tarball of the data directory, loadable through `loadDataDir` */
  dumpDataDir(): Promise<Blob> {
    return this.pg.dumpDataDir('none');
  }

  async close(): Promise<void> {
    if (!this.pg.closed) await this.pg.close();
  }
}
