/**
 * The worker thread that owns an embedded PGlite: plain CommonJS run with
 * `new Worker(source, { eval: true })`, so it loads the same way from the
 * TypeScript sources (tests), the compiled build and the production image.
 * `workerData` carries the resolved paths of PGlite and its pgvector extension.
 *
 * Protocol (one message each way per call, answered by id):
 * - `init {dataDir, loadDataDir}` -> `{hasVector}`
 * - `query {sql, params, tx?}` -> `{rows, rowCount, parse}`: values of the types
 *   in `parse` ([column, type oid] pairs) come back as text, for the caller to
 *   parse in its own realm (see PARSERS in pglite.database.ts)
 * - `begin` -> answered once the transaction holds PGlite's lock; `end {tx, commit}`
 *   commits (or rolls back) it and is answered with the outcome
 * - `listen {channel}` -> notifications arrive as `{notify: <listen id>, payload}`;
 *   `unlisten {listen}`
 * - `dump` -> an ArrayBuffer of the data directory; `close`
 */
export const PGLITE_WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const { vector } = require(workerData.vectorPath);

const TEXT_TYPES = new Set(workerData.textTypes);
const asText = (t) => t;
const parsers = {};
for (const oid of TEXT_TYPES) parsers[oid] = asText;

let pg;
const txs = new Map();
const listeners = new Map();

function errorOf(e) {
  const out = { message: e && e.message ? String(e.message) : String(e), name: e && e.name };
  if (e && typeof e === 'object')
    for (const k of Object.keys(e)) {
      const v = e[k];
      if (v !== undefined && v !== null && typeof v !== 'object' && typeof v !== 'function') out[k] = v;
    }
  return out;
}

function resultOf(r) {
  const parse = [];
  for (const f of r.fields || []) if (TEXT_TYPES.has(f.dataTypeID)) parse.push([f.name, f.dataTypeID]);
  return { rows: r.rows, rowCount: r.rowCount ?? r.affectedRows ?? r.rows.length, parse };
}

async function run(target, sql, params) {
  if (params && params.length > 0) return resultOf(await target.query(sql, params));
  const results = await target.exec(sql);
  const last = results[results.length - 1];
  return last ? resultOf(last) : { rows: [], rowCount: 0, parse: [] };
}

const reply = (id, ok, value) => parentPort.postMessage(ok ? { id, ok, value } : { id, ok, error: errorOf(value) });

/** the operation answers by itself (begin: once the transaction holds the lock) */
const SKIP = Symbol('answered');

async function handle(m) {
  switch (m.op) {
    case 'init': {
      pg = await PGlite.create({
        dataDir: m.dataDir || 'memory://',
        extensions: { vector },
        loadDataDir: m.loadDataDir ? new Blob([m.loadDataDir]) : undefined,
        parsers,
      });
      try {
        await pg.exec('CREATE EXTENSION IF NOT EXISTS vector');
        return { hasVector: true };
      } catch {
        return { hasVector: false };
      }
    }
    case 'query': {
      const target = m.tx === undefined ? pg : txs.has(m.tx) ? txs.get(m.tx).tx : undefined;
      if (!target) throw new Error('the transaction has ended');
      return run(target, m.sql, m.params);
    }
    case 'begin': {
      let end;
      const ended = new Promise((resolve, reject) => { end = { resolve, reject }; });
      const entry = { tx: undefined, end, done: undefined };
      let begun = false;
      entry.done = pg.transaction(async (tx) => {
        begun = true;
        entry.tx = tx;
        txs.set(m.id, entry);
        reply(m.id, true, null);
        await ended;
      });
      entry.done.catch((e) => { if (!begun) reply(m.id, false, e); });
      return SKIP;
    }
    case 'end': {
      const t = txs.get(m.tx);
      if (!t) throw new Error('no such transaction');
      txs.delete(m.tx);
      if (m.commit) t.end.resolve();
      else t.end.reject(new Error('rolled back'));
      try {
        await t.done;
      } catch (e) {
        if (m.commit) throw e;
      }
      return null;
    }
    case 'listen': {
      const stop = await pg.listen(m.channel, (payload) => parentPort.postMessage({ notify: m.id, payload }));
      listeners.set(m.id, stop);
      return null;
    }
    case 'unlisten': {
      const stop = listeners.get(m.listen);
      listeners.delete(m.listen);
      if (stop && !pg.closed) await stop();
      return null;
    }
    case 'ping':
      await pg.query('SELECT 1');
      return null;
    case 'dump': {
      const blob = await pg.dumpDataDir('none');
      return await blob.arrayBuffer();
    }
    case 'close':
      if (pg && !pg.closed) await pg.close();
      return null;
    default:
      throw new Error('unknown operation ' + m.op);
  }
}

parentPort.on('message', (m) => {
  handle(m).then(
    (value) => { if (value !== SKIP) reply(m.id, true, value); },
    (e) => reply(m.id, false, e),
  );
});
`;
