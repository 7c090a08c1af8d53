import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  assertChannel,
  type Database,
  type DatabaseConnectionState,
  type Queryable,
  type QueryResult,
} from './database.port';
import { normaliseParam } from './pglite.database';
import { PGLITE_PARSERS } from './pglite.parsers';
import {
  RAW_ARRAY_ELEMENT,
  type HostError,
  type HostReply,
  type HostRequest,
  type HostResult,
} from './pglite-process.protocol';
import type { StorageLogger } from './storage.logger';

/** a request as sent, without the id the channel assigns */
type Request = HostRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never;

interface Pending {
  resolve(reply: Extract<HostReply, { ok: true }>): void;
  reject(err: Error): void;
}

interface Listener {
  channel: string;
  onNotify(payload: string): void;
  /** the id of its `listen` request on the current host process */
  hostId?: number;
}

export interface PgliteProcessOptions {
  /** directory holding the database files */
  dataDir: string;
  /** a `dumpDataDir()` tarball that seeds `dataDir` when it holds no database yet (tests) */
  template?: string;
  /**
   * How long to wait for another process that has the directory open (a
   * previous gateway still closing) before failing; default 15 s.
   */
  lockWaitMs?: number;
  logger?: StorageLogger;
}

/** a failure of the host process itself, not of a statement */
export class EmbeddedDatabaseExitedError extends Error {
  constructor(detail: string) {
    super(`the embedded database process ${detail}`);
    this.name = 'EmbeddedDatabaseExitedError';
  }
}

/**
 * The embedded database (PGlite with pgvector) in a process of its own: the
 * WASM Postgres executes statements and writes its files there, so queries never
 * block the gateway's event loop, and a crash of the database engine cannot take
 * the gateway down. Same semantics as {@link PgliteDatabase}: one connection,
 * statements and transactions queue behind each other.
 *
 * If the process exits unexpectedly, what was in flight fails, health reports
 * the database down, and the next query starts it again on the same files
 * (Postgres recovers from its WAL, as after a power cut). Listeners are
 * re-registered and told '' (notifications may have been missed).
 */
export class PgliteProcessDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<Listener>();
  /** listeners by the id of their `listen` request, for notifications */
  readonly #byHostId = new Map<number, Listener>();
  #nextId = 1;
  #child: ChildProcess | undefined;
  #starting: Promise<ChildProcess> | undefined;
  #closing: Promise<void> | undefined;
  #state: DatabaseConnectionState = { up: true };

  private constructor(
    private readonly opts: PgliteProcessOptions,
    readonly hasVector: boolean,
    child: ChildProcess,
  ) {
    this.#child = child;
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /**
   * Starts the database process now, before the rest of the gateway has loaded,
   * so that both open at once; the next `create` on the same directory takes it.
   * Unclaimed, the process exits with this one.
   */
  static prestart(opts: PgliteProcessOptions): void {
    if (started.has(opts.dataDir)) return;
    const early = PgliteProcessDatabase.#open(opts);
    early.catch(() => undefined);
    started.set(opts.dataDir, early);
  }

  static create(opts: PgliteProcessOptions): Promise<PgliteProcessDatabase> {
    const early = started.get(opts.dataDir);
    started.delete(opts.dataDir);
    if (!early) return PgliteProcessDatabase.#open(opts);
    return early.then((db) => {
      if (opts.logger) db.opts.logger = opts.logger;
      return db;
    });
  }

  static async #open(opts: PgliteProcessOptions): Promise<PgliteProcessDatabase> {
    mkdirSync(opts.dataDir, { recursive: true });
    const made: { db?: PgliteProcessDatabase } = {};
    const { child, hasVector } = await spawnHost(opts, {
      onReply: (r) => made.db?.onReply(r),
      onExit: (detail) => made.db?.onExit(detail),
    });
    made.db = new PgliteProcessDatabase(opts, hasVector, child);
    return made.db;
  }

  async query<T = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<QueryResult<T>> {
    return decode<T>(await this.#call({ t: 'query', sql, params: params?.map(normaliseParam) }));
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const child = await this.#ready();
    const tx = (await this.#send(child, { t: 'begin' })).id;
    const q: Queryable = {
      query: async <R>(sql: string, params?: unknown[]) =>
        decode<R>(
          await this.#send(child, { t: 'query', sql, params: params?.map(normaliseParam), tx }),
        ),
    };
    let result: T;
    try {
      result = await fn(q);
    } catch (e) {
      await this.#send(child, { t: 'end', tx, commit: false }).catch(() => undefined);
      throw e;
    }
    await this.#send(child, { t: 'end', tx, commit: true });
    return result;
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    assertChannel(channel);
    const listener: Listener = { channel, onNotify };
    this.#listeners.add(listener);
    try {
      await this.#subscribe(await this.#ready(), listener);
    } catch (e) {
      this.#listeners.delete(listener);
      throw e;
    }
    return async () => {
      if (!this.#listeners.delete(listener)) return;
      const hostId = listener.hostId;
      if (hostId === undefined) return;
      this.#byHostId.delete(hostId);
      const child = this.#child;
      if (child && !this.#closing) await this.#send(child, { t: 'unlisten', listen: hostId });
    };
  }

  connectionState(): DatabaseConnectionState {
    return { ...this.#state };
  }

  /** the process id of the database process (tests) */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const child = this.#child ?? (await this.#starting?.catch(() => undefined));
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await this.#send(child, { t: 'close' });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    })();
    return this.#closing;
  }

  async #call(req: Request): Promise<Extract<HostReply, { ok: true }>> {
    return this.#send(await this.#ready(), req);
  }

  /** `sent` learns the request's id before any answer to it can arrive */
  #send(
    child: ChildProcess,
    req: Request,
    sent?: (id: number) => void,
  ): Promise<Extract<HostReply, { ok: true }>> {
    if (child !== this.#child || !child.connected)
      return Promise.reject(new EmbeddedDatabaseExitedError('is not running'));
    const id = this.#nextId++;
    sent?.(id);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      child.send({ ...req, id }, (err) => {
        if (err && this.#pending.delete(id)) reject(err);
      });
    });
  }

  /** the running host process, started again after an unexpected exit */
  #ready(): Promise<ChildProcess> {
    if (this.#closing) return Promise.reject(new Error('the embedded database is closed'));
    if (this.#child) return Promise.resolve(this.#child);
    this.#starting ??= this.#restart().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #restart(): Promise<ChildProcess> {
    const { child } = await spawnHost(this.opts, {
      onReply: (r) => this.onReply(r),
      onExit: (detail) => this.onExit(detail),
    });
    this.#child = child;
    this.#state = { up: true, lastOkAt: Date.now(), lastFailureAt: this.#state.lastFailureAt };
    this.opts.logger?.log('embedded database process started again');
    for (const l of this.#listeners) {
      await this.#subscribe(child, l).catch((e: unknown) =>
        this.opts.logger?.error(
          `embedded database: listening on ${l.channel} again failed: ${String(e)}`,
        ),
      );
      l.onNotify('');
    }
    return child;
  }

  async #subscribe(child: ChildProcess, listener: Listener): Promise<void> {
    try {
      await this.#send(child, { t: 'listen', channel: listener.channel }, (id) => {
        listener.hostId = id;
        this.#byHostId.set(id, listener);
      });
    } catch (e) {
      if (listener.hostId !== undefined) this.#byHostId.delete(listener.hostId);
      listener.hostId = undefined;
      throw e;
    }
  }

  private onReply(reply: HostReply): void {
    if ('notify' in reply) {
      this.#byHostId.get(reply.id)?.onNotify(reply.notify);
      return;
    }
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if (reply.ok) {
      this.#state.lastOkAt = Date.now();
      p.resolve(reply);
    } else p.reject(toError(reply.error));
  }

  private onExit(detail: string): void {
    this.#child = undefined;
    this.#byHostId.clear();
    const err = new EmbeddedDatabaseExitedError(detail);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    if (this.#closing) return;
    this.#state = { ...this.#state, up: false, lastFailureAt: Date.now(), lastError: err.message };
    this.opts.logger?.error(`${err.message}; it starts again with the next query`);
  }
}

/** databases started by `prestart`, by directory, until `create` takes them */
const started = new Map<string, Promise<PgliteProcessDatabase>>();

/** Starts the host process on `dataDir` and waits until the database is open. */
async function spawnHost(
  { dataDir, template, lockWaitMs = 15_000 }: PgliteProcessOptions,
  on: { onReply(r: HostReply): void; onExit(detail: string): void },
): Promise<{ child: ChildProcess; hasVector: boolean }> {
  // from the sources (tests, `npm run dev`) the host is TypeScript: compile it on load
  const ts = extname(__filename) === '.ts';
  const child = fork(join(__dirname, `pglite.host${extname(__filename)}`), [], {
    serialization: 'advanced',
    execArgv: ts ? ['-r', '@swc-node/register'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let opened = false;
  const open = new Promise<boolean>((resolve, reject) => {
    child.on('message', (r: HostReply) => {
      if (opened) return on.onReply(r);
      opened = true;
      if ('ok' in r && r.ok) resolve(r.hasVector ?? false);
      else if ('ok' in r) reject(toError(r.error));
    });
    child.once('exit', (code, signal) => {
      const detail = `exited (${signal ?? `code ${code}`})`;
      if (!opened) {
        opened = true;
        reject(new EmbeddedDatabaseExitedError(detail));
      } else on.onExit(detail);
    });
    child.once('error', (e) => {
      if (!opened) {
        opened = true;
        reject(e);
      }
    });
  });
  child.send({ t: 'open', id: 0, dataDir, template, lockWaitMs } satisfies HostRequest);
  try {
    return { child, hasVector: await open };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/** a database error with the fields `pg` gives it (`code`, `constraint`, ...) */
function toError(e: HostError): Error {
  const { message, ...fields } = e;
  return Object.assign(new Error(message), fields);
}

function decode<T>(reply: Extract<HostReply, { ok: true }>): QueryResult<T> {
  const r = JSON.parse(reply.result ?? '{"rows":[],"rowCount":0,"raw":[]}') as HostResult;
  if (r.raw.length > 0)
    for (const row of r.rows)
      for (const [column, oid] of r.raw) {
        const v = row[column];
        if (v !== null && v !== undefined) row[column] = parse(v, oid);
      }
  return { rows: r.rows as T[], rowCount: r.rowCount };
}

function parse(v: unknown, oid: number): unknown {
  const element = RAW_ARRAY_ELEMENT[oid];
  if (element !== undefined)
    return Array.isArray(v) ? v.map((x: unknown) => (x === null ? null : parse(x, element))) : v;
  const p = PGLITE_PARSERS[oid] as ((t: string) => unknown) | undefined;
  return p !== undefined && typeof v === 'string' ? p(v) : v;
}
