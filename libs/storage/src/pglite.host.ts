/**
 * The embedded database's own process: PGlite (WASM Postgres) runs here, off
 * the gateway's event loop, and answers `HostRequest`s from the gateway over
 * the IPC channel (see `pglite-process.database.ts`).
 *
 * It stops when the gateway asks (`close`) or when the gateway is gone (the IPC
 * channel closes), never on a signal: Ctrl-C reaches the whole process group,
 * and the gateway still writes its last usage records while it drains.
 */
import { existsSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import {
  RAW_ARRAY_ELEMENT,
  RAW_SCALARS,
  type HostError,
  type HostReply,
  type HostRequest,
  type HostResult,
} from './pglite-process.protocol';

interface Target {
  query<T>(
    sql: string,
    params?: unknown[],
  ): Promise<{
    rows: T[];
    fields: Array<{ name: string; dataTypeID: number }>;
    rowCount?: number;
    affectedRows?: number;
  }>;
  exec(sql: string): Promise<
    Array<{
      rows: unknown[];
      fields: Array<{ name: string; dataTypeID: number }>;
      rowCount?: number;
      affectedRows?: number;
    }>
  >;
}

const text = (t: string) => t;
/** the server's text for every type whose JS value does not survive JSON */
const PARSERS: Record<number, (t: string) => unknown> = Object.fromEntries(
  RAW_SCALARS.map((oid) => [oid, text]),
);
const RAW = new Set<number>([...RAW_SCALARS, ...Object.keys(RAW_ARRAY_ELEMENT).map(Number)]);

let pg: PGlite | undefined;
/** open transactions by the id of their `begin`: the handle and how to end it */
const transactions = new Map<number, { tx: Transaction; end: (commit: boolean) => void }>();
const ended = new Map<number, Promise<void>>();
const listening = new Map<number, () => Promise<void>>();
let stopping: Promise<void> | undefined;

function send(reply: HostReply, then?: () => void): void {
  if (!process.connected) return;
  process.send!(reply, undefined, {}, () => then?.());
}

function describe(e: unknown): HostError {
  if (typeof e !== 'object' || e === null) return { message: String(e) };
  const o = e as Record<string, unknown>;
  const out: HostError = { message: typeof o.message === 'string' ? o.message : 'database error' };
  for (const k of [
    'code',
    'severity',
    'detail',
    'hint',
    'position',
    'where',
    'schema',
    'table',
    'column',
    'dataType',
    'constraint',
  ] as const)
    if (typeof o[k] === 'string') out[k] = o[k];
  return out;
}

function database(): PGlite {
  if (!pg || pg.closed) throw new Error('the embedded database is not open');
  return pg;
}

/** Without parameters the statement goes through the simple-query protocol, as with `pg`. */
async function run(target: Target, sql: string, params?: unknown[]): Promise<string> {
  let rows: unknown[];
  let fields: Array<{ name: string; dataTypeID: number }>;
  let rowCount: number;
  if (params && params.length > 0) {
    const r = await target.query(sql, params);
    ({ rows, fields } = r);
    rowCount = r.rowCount ?? r.affectedRows ?? r.rows.length;
  } else {
    const results = await target.exec(sql);
    const last = results[results.length - 1];
    rows = last?.rows ?? [];
    fields = last?.fields ?? [];
    rowCount = last ? (last.rowCount ?? last.affectedRows ?? last.rows.length) : 0;
  }
  const raw: HostResult['raw'] = [];
  for (const f of fields) if (RAW.has(f.dataTypeID)) raw.push([f.name, f.dataTypeID]);
  const result: HostResult = { rows: rows as HostResult['rows'], rowCount, raw };
  return JSON.stringify(result);
}

let lockFile: string | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One process per data directory (two would corrupt it): `<dataDir>.lock` holds
 * the owner's pid. A previous owner still closing (a restart right after a
 * stop) is waited for; a live one past the wait is an error; a dead one's lock
 * is taken over.
 */
async function lock(dataDir: string, waitMs: number): Promise<void> {
  const file = `${dataDir}.lock`;
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      lockFile = file;
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue; // released meanwhile
    }
    const owner = Number(text);
    const writing = text === '' && Date.now() < until; // created, pid not written yet
    if (!writing && (!Number.isInteger(owner) || owner <= 0 || !alive(owner))) {
      unlinkSync(file);
      continue;
    }
    if (Date.now() > until)
      throw new Error(
        `the embedded database in ${dataDir} is in use by process ${owner}: one gateway per DATA_DIR`,
      );
    await sleep(50);
  }
}

function unlock(): void {
  if (!lockFile) return;
  try {
    if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(lockFile);
  } catch {
    // already gone
  }
  lockFile = undefined;
}

async function open(m: Extract<HostRequest, { t: 'open' }>): Promise<boolean> {
  const { dataDir, template } = m;
  await lock(dataDir, m.lockWaitMs);
  const seed =
    template !== undefined && !existsSync(join(dataDir, 'PG_VERSION'))
      ? new Blob([readFileSync(template)])
      : undefined;
  pg = await PGlite.create({
    dataDir,
    extensions: { vector },
    parsers: PARSERS,
    loadDataDir: seed,
  });
  try {
    await pg.exec('CREATE EXTENSION IF NOT EXISTS vector');
    return true;
  } catch {
    return false;
  }
}

function begin(id: number): void {
  let started = false;
  const done = database().transaction(async (tx) => {
    const commit = await new Promise<boolean>((end) => {
      transactions.set(id, { tx, end });
      started = true;
      send({ id, ok: true });
    });
    if (!commit) await tx.rollback();
  });
  ended.set(
    id,
    done.finally(() => {
      transactions.delete(id);
      ended.delete(id);
    }),
  );
  done.catch((e: unknown) => {
    if (!started) send({ id, ok: false, error: describe(e) });
  });
}

async function end(tx: number, commit: boolean): Promise<void> {
  const open = transactions.get(tx);
  const finished = ended.get(tx);
  if (!open || !finished) throw new Error(`no open transaction ${tx}`);
  open.end(commit);
  await finished;
}

async function handle(m: HostRequest): Promise<void> {
  try {
    switch (m.t) {
      case 'open':
        send({ id: m.id, ok: true, hasVector: await open(m) });
        return;
      case 'query': {
        const target: Target =
          m.tx === undefined ? database() : (transactions.get(m.tx)?.tx ?? missing(m.tx));
        send({ id: m.id, ok: true, result: await run(target, m.sql, m.params) });
        return;
      }
      case 'begin':
        begin(m.id);
        return;
      case 'end':
        await end(m.tx, m.commit);
        send({ id: m.id, ok: true });
        return;
      case 'listen': {
        const stop = await database().listen(m.channel, (payload) =>
          send({ id: m.id, notify: payload }),
        );
        listening.set(m.id, stop);
        send({ id: m.id, ok: true });
        return;
      }
      case 'unlisten': {
        const stop = listening.get(m.listen);
        listening.delete(m.listen);
        if (stop && pg && !pg.closed) await stop();
        send({ id: m.id, ok: true });
        return;
      }
      case 'close':
        await stop();
        send({ id: m.id, ok: true }, () => process.exit(0));
        return;
    }
  } catch (e) {
    send({ id: m.id, ok: false, error: describe(e) });
  }
}

function missing(tx: number): never {
  throw new Error(`no open transaction ${tx}`);
}

/** rolls back what is open and closes the database (flushing it to disk) */
function stop(): Promise<void> {
  stopping ??= (async () => {
    for (const t of transactions.values()) t.end(false);
    await Promise.allSettled([...ended.values()]);
    if (pg && !pg.closed) await pg.close();
    unlock();
  })();
  return stopping;
}

process.on('message', (m: HostRequest) => void handle(m));
process.on('disconnect', () => {
  void stop().finally(() => process.exit(0));
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
