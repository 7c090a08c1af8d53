/* eslint-disable @typescript-eslint/require-await -- handlers are async by contract */
import { Migrator, PostgresDatabase, type Database } from '@switchboard/storage';
import {
  type TestPostgres,
  TEST_POSTGRES_URL,
  createTestPglite,
  createTestPostgres,
} from '@switchboard/storage/testing';
import { datasourceMigrations } from '../datasources.migrations';
import { JobQueue } from './job-queue';
import { JobWorker, PermanentJobError } from './job-worker';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('JobQueue + JobWorker (PostgreSQL)', () => {
  let pg: TestPostgres;
  let queue: JobQueue;

  beforeAll(async () => {
    pg = await createTestPostgres({ poolSize: 8 });
    await new Migrator(pg.db).migrate(datasourceMigrations);
    queue = new JobQueue(pg.db, { backoffBaseMs: 20, backoffMaxMs: 200 });
  });
  afterAll(() => pg.drop());
  beforeEach(() => pg.db.query('DELETE FROM jobs'));

  const count = async (status: string) =>
    Number(
      (
        await pg.db.query<{ n: string }>('SELECT count(*) AS n FROM jobs WHERE status = $1', [
          status,
        ])
      ).rows[0].n,
    );

  /** the database's clock, which decides lease expiry */
  const dbNow = async () =>
    new Date((await pg.db.query<{ now: Date }>('SELECT now() AS now')).rows[0].now);

  /** resolves once the job's lease is behind the database's clock */
  const leaseExpired = (id: string) =>
    until(
      async () =>
        (await pg.db.query('SELECT 1 FROM jobs WHERE id = $1 AND lease_until < now()', [id]))
          .rowCount === 1,
    );

  it('three workers share the queue and process each job exactly once', async () => {
    const seen = new Map<number, string[]>();
    const workers = ['w1', 'w2', 'w3'].map((id) =>
      new JobWorker(queue, { workerId: id, pollMs: 10, concurrency: 2 }).register<{ n: number }>(
        't',
        {
          run: async ({ n }) => {
            seen.set(n, [...(seen.get(n) ?? []), id]);
            await sleep(5);
          },
        },
      ),
    );
    for (let n = 0; n < 60; n++) await queue.enqueue('t', { n });
    workers.forEach((w) => w.start());
    await until(async () => (await count('done')) === 60);
    await Promise.all(workers.map((w) => w.stop()));
    expect(seen.size).toBe(60);
    expect([...seen.values()].every((ids) => ids.length === 1)).toBe(true);
    const byWorker = new Set([...seen.values()].flat());
    expect(byWorker.size).toBeGreaterThan(1);
  });

  it('retries a failing job with exponential backoff, then succeeds', async () => {
    const times: number[] = [];
    const w = new JobWorker(queue, { pollMs: 5 }).register('flaky', {
      run: async () => {
        times.push(Date.now());
        if (times.length < 3) throw new Error(`boom ${times.length}`);
      },
    });
    const id = await queue.enqueue('flaky', {}, { maxAttempts: 5 });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'done');
    await w.stop();
    const job = (await queue.get(id))!;
    expect(job.attempts).toBe(3);
    expect(job.lastError).toBe('boom 2');
    // 20 ms, then 40 ms (doubling)
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(15);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(35);
  });

  it('dead-letters after max attempts with the last error and runs the dead hook once', async () => {
    const dead: string[] = [];
    const w = new JobWorker(queue, { pollMs: 5 }).register<{ f: string }>('bad', {
      run: () => Promise.reject(new Error('upstream down')),
      onDead: (p, error) => {
        dead.push(`${p.f}:${error}`);
        return Promise.resolve();
      },
    });
    const id = await queue.enqueue('bad', { f: 'x' }, { maxAttempts: 3 });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'dead');
    await w.stop();
    const job = (await queue.get(id))!;
    expect(job).toMatchObject({ attempts: 3, lastError: 'upstream down', status: 'dead' });
    expect(job.deadAt).toBeInstanceOf(Date);
    expect(dead).toEqual(['x:upstream down']);
    expect((await queue.listDead()).map((j) => j.id)).toEqual([id]);
    // work done alongside the requeue commits with it, or neither happens
    await expect(
      queue.retryDead(id, () => Promise.reject(new Error('file row gone'))),
    ).rejects.toThrow('file row gone');
    expect((await queue.get(id))!.status).toBe('dead');
    const seen: string[] = [];
    const requeued = await queue.retryDead(id, async (j, tx) => {
      // inside the transaction the requeue is visible; the job is answered as requeued
      const r = await tx.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [j.id]);
      seen.push(r.rows[0].status);
    });
    expect(seen).toEqual(['queued']);
    expect(requeued).toMatchObject({ id, status: 'queued', attempts: 0, deadAt: null });
    expect((await queue.get(id))!.status).toBe('queued');
    expect(await queue.stats()).toMatchObject({ queued: 1, dead: 0 });
    // only a dead job can be retried
    expect(await queue.retryDead(id)).toBeNull();
    expect(await queue.retryDead('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('dead-letters a permanent failure at once', async () => {
    const w = new JobWorker(queue, { pollMs: 5 }).register('corrupt', {
      run: () => Promise.reject(new PermanentJobError('The PDF is password-protected.')),
    });
    const id = await queue.enqueue('corrupt', {}, { maxAttempts: 5 });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'dead');
    await w.stop();
    expect(await queue.get(id)).toMatchObject({
      attempts: 1,
      lastError: 'The PDF is password-protected.',
    });
  });

  it('reclaims a job whose worker died once its lease expires', async () => {
    const id = await queue.enqueue('work', {});
    const claimed = await queue.claim(['work'], 'dead-worker', 150); // claims, then "crashes"
    expect(claimed?.id).toBe(id);
    expect(await queue.claim(['work'], 'other', 150)).toBeNull(); // leased: invisible
    const ran: string[] = [];
    const w = new JobWorker(queue, { workerId: 'survivor', pollMs: 20 }).register('work', {
      run: async (_p, ctx) => {
        ran.push(`${ctx.jobId}#${ctx.attempt}`);
      },
    });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'done');
    await w.stop();
    expect(ran).toEqual([`${id}#2`]);
    expect(await queue.complete(id, 'dead-worker')).toBe(false); // the old worker lost it
    expect(await queue.pruneDone(60_000)).toBe(0);
    expect(await queue.pruneDone(0)).toBe(1);
    expect(await queue.get(id)).toBeNull();
  });

  it('dead-letters a job whose worker died on its last attempt, with the dead hook', async () => {
    const id = await queue.enqueue('crashy', { f: 'y' }, { maxAttempts: 1 });
    await queue.claim(['crashy'], 'dead-worker', 50);
    await leaseExpired(id);
    const dead: string[] = [];
    const w = new JobWorker(queue, { pollMs: 10 }).register<{ f: string }>('crashy', {
      run: () => Promise.resolve(),
      onDead: (p) => {
        dead.push(p.f);
        return Promise.resolve();
      },
    });
    await w.runOnce();
    expect((await queue.get(id))!.status).toBe('dead');
    expect((await queue.get(id))!.lastError).toMatch(/lease expired/);
    expect(dead).toEqual(['y']);
  });

  it('keeps a long job leased by renewing it', async () => {
    const id = await queue.enqueue('long', {});
    let finish!: () => void;
    const running = new Promise<void>((r) => (finish = r));
    const w = new JobWorker(queue, { workerId: 'a', pollMs: 5, leaseMs: 300 }).register('long', {
      run: () => running,
    });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'running');
    const firstLease = (await queue.get(id))!.leaseUntil!;
    // past the first lease by the database's clock: only renewal keeps the job
    await until(async () => (await dbNow()) > firstLease);
    expect(await queue.claim(['long'], 'b', 1000)).toBeNull();
    expect((await queue.get(id))!.leaseUntil!.getTime()).toBeGreaterThan(firstLease.getTime());
    finish();
    await until(async () => (await queue.get(id))?.status === 'done');
    await w.stop();
    expect((await queue.get(id))!.attempts).toBe(1);
  });

  it('stop() waits for the job in flight', async () => {
    const id = await queue.enqueue('slow', {});
    let finished = false;
    const w = new JobWorker(queue, { pollMs: 5 }).register('slow', {
      run: async () => {
        await sleep(150);
        finished = true;
      },
    });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'running');
    await w.stop(5_000);
    expect(finished).toBe(true);
    expect((await queue.get(id))!.status).toBe('done');
  });

  it('stop() past its grace aborts the job and releases it without counting the attempt', async () => {
    const id = await queue.enqueue('stuck', {});
    let aborted = false;
    const w = new JobWorker(queue, { pollMs: 5 }).register('stuck', {
      run: (_p, ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    w.start();
    await until(async () => (await queue.get(id))?.status === 'running');
    await w.stop(50);
    expect(aborted).toBe(true);
    expect(await queue.get(id)).toMatchObject({ status: 'queued', attempts: 0, lockedBy: null });
  });

  it('fails an attempt that runs past the job timeout and aborts its signal', async () => {
    let sawAbort = false;
    const w = new JobWorker(queue, { pollMs: 5, jobTimeoutMs: 60 }).register('hang', {
      run: (_p, ctx) =>
        new Promise<void>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          });
        }),
    });
    const id = await queue.enqueue('hang', {}, { maxAttempts: 1 });
    await w.runOnce();
    expect(sawAbort).toBe(true);
    expect(await queue.get(id)).toMatchObject({
      status: 'dead',
      lastError: 'timed out after 60 ms',
    });
  });

  it('recoverOrphans requeues running jobs of a crashed single process at once', async () => {
    const a = await queue.enqueue('orphan', {}, { maxAttempts: 3 });
    const b = await queue.enqueue('orphan', {}, { maxAttempts: 1 });
    await queue.claim(['orphan'], 'crashed', 60_000);
    await queue.claim(['orphan'], 'crashed', 60_000);
    const r = await queue.recoverOrphans();
    expect(r.requeued).toBe(1);
    expect(r.dead.map((j) => j.id)).toEqual([b]);
    expect(await queue.get(a)).toMatchObject({ status: 'queued', attempts: 1, lockedBy: null });
    expect(await queue.get(b)).toMatchObject({ status: 'dead' });
  });

  it('a worker recovering orphans tells the handler of each job it dead-letters, and only those', async () => {
    const kind = 'orphan-told';
    const earlier = await queue.enqueue(kind, { n: 0 }, { maxAttempts: 1 });
    await queue.claim([kind], 'before', 60_000);
    await queue.fail(earlier, 'before', 'failed long ago');
    const cut = await queue.enqueue(kind, { n: 1 }, { maxAttempts: 1 });
    const retried = await queue.enqueue(kind, { n: 2 }, { maxAttempts: 2 });
    await queue.claim([kind], 'crashed', 60_000);
    await queue.claim([kind], 'crashed', 60_000);
    const told: Array<{ payload: unknown; error: string; id: string }> = [];
    const worker = new JobWorker(queue, NEVER_POLLS).register(kind, {
      run: () => Promise.resolve(),
      onDead: (payload, error, job) => {
        told.push({ payload, error, id: job.id });
        return Promise.resolve();
      },
    });
    expect(await worker.recoverOrphans()).toEqual({ requeued: 1, dead: 1 });
    expect(told).toEqual([
      {
        payload: { n: 1 },
        error: expect.stringContaining('the process stopped') as string,
        id: cut,
      },
    ]);
    expect(await queue.get(retried)).toMatchObject({ status: 'queued' });
    expect(await queue.get(earlier)).toMatchObject({ status: 'dead' });
  });
});

/** An idle worker that never polls within the test: only a wake-up can start a job. */
const NEVER_POLLS = { pollMs: 10 * 60_000 };

describe('JobWorker wakes on enqueue instead of polling', () => {
  const runIdleWorker = (queue: JobQueue, ran: string[]) =>
    new JobWorker(queue, { workerId: 'idle', ...NEVER_POLLS }).register<{ tag: string }>('wake', {
      run: async ({ tag }) => {
        ran.push(tag);
      },
    });

  it('PostgreSQL: a job enqueued on another replica starts at once', async () => {
    const pg = await createTestPostgres();
    const other = await PostgresDatabase.connect({ url: pg.url, poolSize: 2 });
    const ran: string[] = [];
    const worker = runIdleWorker(new JobQueue(pg.db), ran);
    try {
      await new Migrator(pg.db).migrate(datasourceMigrations);
      worker.start();
      // the worker is idle (nothing queued) before the other replica enqueues
      await until(async () => worker.waiting === 1);
      await new JobQueue(other).enqueue('wake', { tag: 'from another replica' });
      await until(async () => ran.length === 1);
      // a job delayed past enqueue is started when it falls due, with no notification
      await until(async () => worker.waiting === 1);
      await new JobQueue(other).enqueue('wake', { tag: 'delayed' }, { delayMs: 300 });
      await until(async () => ran.length === 2);
      expect(ran).toEqual(['from another replica', 'delayed']);
    } finally {
      await worker.stop();
      await other.close();
      await pg.drop();
    }
  });

  it('PostgreSQL, poll mode: no session is held between polls, and a wake-up still starts a job at once', async () => {
    const pg = await createTestPostgres({ poolSize: 2, idleTimeoutMs: 50 });
    const queue = new JobQueue(pg.db);
    const ran: string[] = [];
    const worker = new JobWorker(queue, { workerId: 'poller', listen: false, ...NEVER_POLLS });
    worker.register<{ tag: string }>('wake', {
      run: async ({ tag }) => {
        ran.push(tag);
      },
    });
    const sessions = async () => {
      const admin = await PostgresDatabase.connect({ url: TEST_POSTGRES_URL, poolSize: 1 });
      try {
        const r = await admin.query<{ listening: string; open: string }>(
          `SELECT count(*) FILTER (WHERE query ILIKE 'LISTEN%') AS listening, count(*) AS open
             FROM pg_stat_activity WHERE datname = $1`,
          [pg.database],
        );
        return { listening: Number(r.rows[0].listening), open: Number(r.rows[0].open) };
      } finally {
        await admin.close();
      }
    };
    try {
      await new Migrator(pg.db).migrate(datasourceMigrations);
      worker.start();
      await until(async () => worker.waiting === 1);
      // idle: the pool let its connections go and nothing listens, so the database may pause
      await until(async () => (await sessions()).open === 0);
      expect((await sessions()).listening).toBe(0);
      await queue.enqueue('wake', { tag: 'enqueued here' });
      worker.wake();
      await until(async () => ran.length === 1);
      expect(ran).toEqual(['enqueued here']);
    } finally {
      await worker.stop();
      await pg.drop();
    }
  });

  it('PGlite: a job enqueued in this process starts at once, also inside a transaction once it commits', async () => {
    const db: Database = await createTestPglite();
    const queue = new JobQueue(db);
    const ran: string[] = [];
    const worker = runIdleWorker(queue, ran);
    try {
      await new Migrator(db).migrate(datasourceMigrations);
      worker.start();
      await until(async () => worker.waiting === 1);
      await queue.enqueue('wake', { tag: 'plain' });
      await until(async () => ran.length === 1);
      await until(async () => worker.waiting === 1);
      await db.transaction((tx) => queue.enqueue('wake', { tag: 'in a transaction' }, {}, tx));
      await until(async () => ran.length === 2);
      expect(ran).toEqual(['plain', 'in a transaction']);
    } finally {
      await worker.stop();
      await db.close();
    }
  });
});
