import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import {
  assertChannel,
  type Database,
  type DatabaseConnectionState,
  type Queryable,
  type QueryResult,
} from './database.port';
import { normaliseParam, PARSERS, type PgliteDatabaseOptions } from './pglite.database';
import { PGLITE_WORKER_SOURCE } from './pglite-thread.worker';

interface WorkerResult {
  rows: Record<string, unknown>[];
  rowCount: number;
  /** [column, type oid] of the values sent as text, parsed here */
  parse: Array<[string, number]>;
}

type Reply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WorkerError };
type Notice = { notify: number; payload: string };
interface WorkerError {
  message: string;
  name?: string;
  [k: string]: unknown;
}

/** an Error of this realm carrying the worker's fields (`code`, `detail`...) */
function toError(e: WorkerError): Error {
  const err = new Error(e.message);
  for (const [k, v] of Object.entries(e))
    if (k !== 'message' && k !== 'stack') Object.assign(err, { [k]: v });
  return err;
}

/**
 * Embedded Postgres (PGlite, WASM) on its own worker thread: a query's
 * execution never blocks the event loop that serves streams, only its
 * answer's message does. The same contract as `PgliteDatabase` (one
 * connection: top-level queries and transactions queue on PGlite's lock;
 * inside `transaction(fn)` use the `tx` handed to `fn`). The worker keeps the
 * process alive only while a call is in flight.
 */
export class PgliteThreadDatabase implements Database {
  readonly kind = 'pglite' as const;
  #next = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly #listeners = new Map<number, (payload: string) => void>();
  #exited: Error | undefined;
  #closed = false;

  private constructor(
    private readonly worker: Worker,
    readonly dataDir: string | undefined,
  ) {
    worker.unref();
    worker.on('message', (m: Reply | Notice) => {
      if ('notify' in m) {
        this.#listeners.get(m.notify)?.(m.payload);
        return;
      }
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#settled(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(toError(m.error));
    });
    const fail = (e: Error) => {
      this.#exited ??= e;
      for (const [id, p] of this.#pending) {
        this.#settled(id);
        p.reject(e);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) =>
      fail(new Error(`the embedded database thread exited (code ${code})`)),
    );
  }

  /** set once the database is open */
  hasVector = false;

  static async create(opts: PgliteDatabaseOptions = {}): Promise<PgliteThreadDatabase> {
    const inMemory = opts.inMemory ?? !opts.dataDir;
    const dataDir = inMemory ? undefined : opts.dataDir;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const worker = new Worker(PGLITE_WORKER_SOURCE, {
      eval: true,
      workerData: {
        pglitePath: require.resolve('@electric-sql/pglite'),
        vectorPath: require.resolve('@electric-sql/pglite-pgvector'),
        textTypes: Object.keys(PARSERS).map(Number),
      },
    });
    const db = new PgliteThreadDatabase(worker, dataDir);
    try {
      const loadDataDir = opts.loadDataDir ? await opts.loadDataDir.arrayBuffer() : undefined;
      const r = (await db.#call({ op: 'init', dataDir, loadDataDir })) as { hasVector: boolean };
      db.hasVector = r.hasVector;
    } catch (e) {
      await worker.terminate();
      throw e;
    }
    return db;
  }

  /** posts one operation; `id` names a transaction or a listener that later messages refer to */
  #call(message: Record<string, unknown>, id = this.#next++): Promise<unknown> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.worker.ref();
      this.#pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.worker.unref();
  }

  async #query<T>(
    sql: string,
    params: unknown[] | undefined,
    tx?: number,
  ): Promise<QueryResult<T>> {
    const r = (await this.#call({
      op: 'query',
      sql,
      params: params?.map(normaliseParam),
      tx,
    })) as WorkerResult;
    for (const [column, oid] of r.parse) {
      const parse = PARSERS[oid];
      for (const row of r.rows) {
        const v = row[column];
        if (typeof v === 'string') row[column] = parse(v);
      }
    }
    return { rows: r.rows as T[], rowCount: r.rowCount };
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.#query<T>(sql, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const id = this.#next++;
    await this.#call({ op: 'begin' }, id);
    const tx: Queryable = {
      query: <R>(sql: string, params?: unknown[]) => this.#query<R>(sql, params, id),
    };
    let value: T;
    try {
      value = await fn(tx);
    } catch (e) {
      await this.#call({ op: 'end', tx: id, commit: false }).catch(() => undefined);
      throw e;
    }
    await this.#call({ op: 'end', tx: id, commit: true });
    return value;
  }

  async ping(): Promise<void> {
    await this.#call({ op: 'ping' });
  }

  /** PGlite delivers NOTIFY to its own listeners after the commit; they are relayed here. */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    assertChannel(channel);
    const id = this.#next++;
    this.#listeners.set(id, onNotify);
    try {
      await this.#call({ op: 'listen', channel }, id);
    } catch (e) {
      this.#listeners.delete(id);
      throw e;
    }
    return async () => {
      this.#listeners.delete(id);
      if (!this.#closed && !this.#exited) await this.#call({ op: 'unlisten', listen: id });
    };
  }

  /** embedded: up for as long as its thread is */
  connectionState(): DatabaseConnectionState {
    return { up: this.#exited === undefined };
  }

  /** a tarball of the data directory, loadable through `loadDataDir` */
  async dumpDataDir(): Promise<Blob> {
    return new Blob([(await this.#call({ op: 'dump' })) as ArrayBuffer]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#exited) await this.#call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}
