import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { waitFor } from '@switchboard/common/testing';
import { EmbeddedDatabaseExitedError, PgliteProcessDatabase } from './pglite-process.database';
import { rmSync } from 'node:fs';
import {
  createTestPgliteProcess,
  PGLITE_TEMPLATE_FILE,
  pgliteTemplate,
} from './testing/pglite-template';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the embedded database in its own process', () => {
  let db: PgliteProcessDatabase;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ db, drop } = await createTestPgliteProcess());
    await db.query('CREATE TABLE kept (v text)');
  });
  afterAll(() => drop());

  it('runs statements in another process: the event loop keeps turning during a slow one', async () => {
    expect(db.pid).toBeDefined();
    expect(db.pid).not.toBe(process.pid);
    let turns = 0;
    const t = setInterval(() => turns++, 5);
    try {
      await db.query('SELECT pg_sleep(1)');
    } finally {
      clearInterval(t);
    }
    // in-process, the WASM engine would hold the loop for the whole second
    expect(turns).toBeGreaterThan(10);
  });

  it('is not stopped by a signal to the process group: only the gateway closes it', async () => {
    process.kill(db.pid!, 'SIGINT');
    process.kill(db.pid!, 'SIGTERM');
    await expect(db.query<{ one: number }>('SELECT 1 AS one')).resolves.toMatchObject({
      rows: [{ one: 1 }],
    });
  });

  it('after a crash: fails what was in flight, reports down, starts again on the same files and re-listens', async () => {
    await db.query("INSERT INTO kept VALUES ('before the crash')");
    const heard: string[] = [];
    const stop = await db.listen('crash_test', (p) => heard.push(p));
    const first = db.pid!;
    const inFlight = db.query('SELECT pg_sleep(30)');
    process.kill(first, 'SIGKILL');
    await expect(inFlight).rejects.toBeInstanceOf(EmbeddedDatabaseExitedError);
    expect(db.connectionState().up).toBe(false);

    const r = await db.query<{ v: string }>('SELECT v FROM kept');
    expect(r.rows).toEqual([{ v: 'before the crash' }]);
    expect(db.pid).not.toBe(first);
    expect(db.connectionState().up).toBe(true);
    // told that notifications may have been missed, then hears new ones
    expect(heard).toEqual(['']);
    await db.query("SELECT pg_notify('crash_test', 'after')");
    await waitFor(() => heard.includes('after'), { timeoutMs: 10_000, what: 'notification' });
    await stop();
  });

  it('fails a transaction whose process died, and the next one runs', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO kept VALUES ('lost')");
        process.kill(db.pid!, 'SIGKILL');
        await tx.query('SELECT pg_sleep(30)');
      }),
    ).rejects.toBeInstanceOf(EmbeddedDatabaseExitedError);
    await db.transaction((tx) => tx.query("INSERT INTO kept VALUES ('next')"));
    const r = await db.query<{ v: string }>('SELECT v FROM kept ORDER BY v');
    expect(r.rows.map((x) => x.v)).toEqual(['before the crash', 'next']);
  });

  it('carries the SQLSTATE and constraint of a failed statement', async () => {
    await db.query('CREATE TABLE uniq (k text PRIMARY KEY)');
    await db.query("INSERT INTO uniq VALUES ('a')");
    await expect(db.query('INSERT INTO uniq VALUES ($1)', ['a'])).rejects.toMatchObject({
      code: '23505',
      constraint: 'uniq_pkey',
    });
  });

  it('parses raw-sent arrays and floats like the in-process engine', async () => {
    const r = await db.query<{ big: unknown; f: unknown; ts: unknown; nan: unknown }>(
      `SELECT ARRAY[1, 9223372036854775807]::bigint[] AS big, ARRAY['Infinity', 1.5]::float8[] AS f,
              ARRAY['2026-01-02T03:04:05Z'::timestamptz] AS ts, 'NaN'::float8 AS nan`,
    );
    expect(r.rows[0]).toEqual({
      big: [1, '9223372036854775807'],
      f: [Infinity, 1.5],
      ts: [new Date('2026-01-02T03:04:05Z')],
      nan: NaN,
    });
  });
});

describe('one process per data directory', () => {
  it('a second opener waits for the first to close, then sees its data; a live owner past the wait is an error', async () => {
    const first = await createTestPgliteProcess();
    try {
      await first.db.query("CREATE TABLE owner (v text); INSERT INTO owner VALUES ('first')");
      await expect(
        PgliteProcessDatabase.create({ dataDir: first.dataDir, lockWaitMs: 100 }),
      ).rejects.toThrow(`in use by process ${first.db.pid}`);

      let firstClosed = false;
      const second = PgliteProcessDatabase.create({ dataDir: first.dataDir, lockWaitMs: 30_000 });
      await first.db.close().then(() => (firstClosed = true));
      const db = await second;
      try {
        expect(firstClosed).toBe(true);
        const r = await db.query<{ v: string }>('SELECT v FROM owner');
        expect(r.rows).toEqual([{ v: 'first' }]);
      } finally {
        await db.close();
      }
    } finally {
      await first.drop();
    }
  });

  it('takes over the lock of a process that died without closing', async () => {
    const first = await createTestPgliteProcess();
    try {
      const pid = first.db.pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: 'the first process to die' });
      const db = await PgliteProcessDatabase.create({ dataDir: first.dataDir, lockWaitMs: 100 });
      await expect(db.ping()).resolves.toBeUndefined();
      await db.close();
    } finally {
      await first.drop();
    }
  });
});

describe('when the gateway process dies', () => {
  it('the database process closes and exits on its own', async () => {
    await pgliteTemplate();
    const script = join(__dirname, 'testing', 'pglite-process-parent.fixture.ts');
    const parent = spawn(process.execPath, ['-r', '@swc-node/register', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, PGLITE_TEMPLATE: PGLITE_TEMPLATE_FILE },
    });
    let out = '';
    parent.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await waitFor(() => /pid (\d+) dir \S+/.test(out), { timeoutMs: 60_000, what: 'the host pid' });
    const host = Number(/pid (\d+)/.exec(out)![1]);
    expect(alive(host)).toBe(true);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await waitFor(() => !alive(host), { timeoutMs: 30_000, what: 'the host to exit' });
    rmSync(/dir (\S+)/.exec(out)![1], { recursive: true, force: true });
  });
});
