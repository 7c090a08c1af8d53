import { randomUUID } from 'node:crypto';
import { parseJson, toDate, type Database, type Queryable } from '@switchboard/storage';

export type JobStatus = 'queued' | 'running' | 'done' | 'dead';

export interface Job<P = Record<string, unknown>> {
  id: string;
  kind: string;
  payload: P;
  status: JobStatus;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseUntil: Date | null;
  lockedBy: string | null;
  lastError: string | null;
  deadAt: Date | null;
  createdAt: Date;
}

export interface EnqueueOptions {
  maxAttempts?: number;
  /** delay before the first attempt, ms */
  delayMs?: number;
}

export interface JobQueueOptions {
  /** first retry delay; doubles per attempt (default 1 s) */
  backoffBaseMs?: number;
  /** retry delay ceiling (default 5 min) */
  backoffMaxMs?: number;
}

interface JobRow {
  id: string;
  kind: string;
  payload: unknown;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_at: Date | string;
  lease_until: Date | string | null;
  locked_by: string | null;
  last_error: string | null;
  dead_at: Date | string | null;
  created_at: Date | string;
}

function toJob<P>(r: JobRow): Job<P> {
  return {
    id: r.id,
    kind: r.kind,
    payload: parseJson(r.payload) as P,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: new Date(r.run_at),
    leaseUntil: toDate(r.lease_until),
    lockedBy: r.locked_by,
    lastError: r.last_error,
    deadAt: toDate(r.dead_at),
    createdAt: new Date(r.created_at),
  };
}

/** NOTIFY channel on which every newly due job is announced (payload: its kind). */
export const JOBS_CHANNEL = 'switchboard_jobs';

/** cut stored error texts so a huge stack never bloats the table */
const clip = (s: string) => (s.length > 2000 ? `${s.slice(0, 2000)}…` : s);

/**
 * A durable job queue in the `jobs` table. Workers claim one due job at a time
 * with `FOR UPDATE SKIP LOCKED` (so replicas never take the same job) and hold a
 * lease; a job whose lease ran out (its worker died) is claimed again. Each
 * claim counts as an attempt; failures are retried with exponential backoff and
 * dead-lettered after `max_attempts`. All times come from the database clock, so
 * replicas with skewed clocks agree.
 */
export class JobQueue {
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;

  constructor(
    private readonly db: Database,
    options: JobQueueOptions = {},
  ) {
    this.#backoffBaseMs = options.backoffBaseMs ?? 1000;
    this.#backoffMaxMs = options.backoffMaxMs ?? 5 * 60_000;
  }

  /** `tx` lets the job be created in the same transaction as the row it is about */
  async enqueue(
    kind: string,
    payload: Record<string, unknown>,
    options: EnqueueOptions = {},
    tx: Queryable = this.db,
  ): Promise<string> {
    const id = randomUUID();
    await tx.query(
      `INSERT INTO jobs (id, kind, payload, max_attempts, run_at)
       VALUES ($1, $2, $3::jsonb, $4, now() + make_interval(secs => $5::double precision / 1000))`,
      [id, kind, JSON.stringify(payload), options.maxAttempts ?? 5, options.delayMs ?? 0],
    );
    // delivered on commit to the workers of every replica: a job due now is
    // claimed at once, a delayed one shortens their next-due wait
    await tx.query('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, kind]);
    return id;
  }

  /**
   * Calls `onQueued` whenever a job is enqueued, released or retried by an
   * admin, on any replica; with '' after a lost connection came back.
   */
  onQueued(onQueued: (kind: string) => void): Promise<() => Promise<void>> {
    return this.db.listen(JOBS_CHANNEL, onQueued);
  }

  /**
   * ms until the next queued job of these kinds is due or a running one's lease
   * runs out (0 when one is due now); undefined when there is neither.
   */
  async nextDueInMs(kinds: string[]): Promise<number | undefined> {
    // greatest() would skip a NULL (nothing due) and answer 0: clamp in JS instead
    const r = await this.db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM (least(
                (SELECT min(run_at) FROM jobs WHERE status = 'queued' AND kind = ANY($1)),
                (SELECT min(lease_until) FROM jobs WHERE status = 'running' AND kind = ANY($1))
              ) - now())) * 1000)::float8 AS ms`,
      [kinds],
    );
    const ms = r.rows[0]?.ms;
    return ms === null || ms === undefined ? undefined : Math.max(0, Math.ceil(ms));
  }

  /**
   * Dead-letters running jobs whose lease expired with no attempts left (their
   * worker died on the last attempt) and returns them, so the caller can run
   * their dead-letter hooks.
   */
  async reapExpired(kinds: string[]): Promise<Job[]> {
    const r = await this.db.query<JobRow>(
      `UPDATE jobs SET status = 'dead', dead_at = now(), updated_at = now(), lease_until = NULL,
              last_error = coalesce(last_error || '; ', '') || 'lease expired (worker lost) on the last attempt'
        WHERE status = 'running' AND lease_until < now() AND attempts >= max_attempts
          AND kind = ANY($1::text[])
      RETURNING *`,
      [kinds],
    );
    return r.rows.map((row) => toJob(row));
  }

  /**
   * For a single-process database (embedded PGlite): jobs still `running` at
   * boot were orphaned by a crash, so they are queued again at once instead of
   * after their lease (those out of attempts are dead-lettered). Never call this
   * on a database other live processes share.
   */
  async recoverOrphans(): Promise<{ requeued: number; dead: Job[] }> {
    const dead = await this.db.query<JobRow>(
      `UPDATE jobs SET status = 'dead', dead_at = now(), updated_at = now(), lease_until = NULL, locked_by = NULL,
              last_error = coalesce(last_error || '; ', '') || 'the process stopped during the last attempt'
        WHERE status = 'running' AND attempts >= max_attempts
      RETURNING *`,
    );
    const requeued = await this.db.query(
      `UPDATE jobs SET status = 'queued', run_at = now(), lease_until = NULL, locked_by = NULL, updated_at = now()
        WHERE status = 'running'`,
    );
    return { requeued: requeued.rowCount, dead: dead.rows.map((r): Job => toJob(r)) };
  }

  /** Claims the next due job of one of `kinds` for `workerId`, or null. */
  async claim(kinds: string[], workerId: string, leaseMs: number): Promise<Job | null> {
    const r = await this.db.query<JobRow>(
      `UPDATE jobs
          SET status = 'running', attempts = attempts + 1, locked_by = $2, updated_at = now(),
              lease_until = now() + make_interval(secs => $3::double precision / 1000)
        WHERE id = (
          SELECT id FROM jobs
           WHERE kind = ANY($1::text[])
             AND ((status = 'queued' AND run_at <= now())
               OR (status = 'running' AND lease_until < now() AND attempts < max_attempts))
           ORDER BY run_at, created_at
           FOR UPDATE SKIP LOCKED
           LIMIT 1)
      RETURNING *`,
      [kinds, workerId, leaseMs],
    );
    return r.rows[0] ? toJob(r.rows[0]) : null;
  }

  /** extends the lease of a running job; false when the worker no longer holds it */
  async extendLease(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET lease_until = now() + make_interval(secs => $3::double precision / 1000)
        WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
      [id, workerId, leaseMs],
    );
    return r.rowCount > 0;
  }

  async complete(id: string, workerId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
      [id, workerId],
    );
    return r.rowCount > 0;
  }

  /**
   * Records a failed attempt: back to `queued` with a backoff delay, or `dead`
   * when no attempts are left (or `permanent`). Returns the new status, or null
   * when the worker had lost the job meanwhile.
   */
  async fail(
    id: string,
    workerId: string,
    error: string,
    options: { permanent?: boolean } = {},
  ): Promise<'queued' | 'dead' | null> {
    const r = await this.db.query<{ status: 'queued' | 'dead' }>(
      `UPDATE jobs
          SET status = CASE WHEN $4 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
              dead_at = CASE WHEN $4 OR attempts >= max_attempts THEN now() END,
              run_at = now() + make_interval(secs => least($5::double precision * power(2, attempts - 1), $6) / 1000),
              lease_until = NULL, locked_by = NULL, last_error = $3, updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND status = 'running'
      RETURNING status`,
      [
        id,
        workerId,
        clip(error),
        options.permanent ?? false,
        this.#backoffBaseMs,
        this.#backoffMaxMs,
      ],
    );
    return r.rows[0]?.status ?? null;
  }

  /** gives a job back without counting the attempt (graceful shutdown) */
  async release(id: string, workerId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(),
              lease_until = NULL, locked_by = NULL, updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND status = 'running'`,
      [id, workerId],
    );
    if (r.rowCount > 0) await this.#announce();
    return r.rowCount > 0;
  }

  async #announce(): Promise<void> {
    await this.db.query('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, '']);
  }

  async get(id: string): Promise<Job | null> {
    const r = await this.db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]);
    return r.rows[0] ? toJob(r.rows[0]) : null;
  }

  /** dead-lettered jobs, newest first (admin view) */
  async listDead(limit = 100): Promise<Job[]> {
    const r = await this.db.query<JobRow>(
      `SELECT * FROM jobs WHERE status = 'dead' ORDER BY dead_at DESC LIMIT $1`,
      [limit],
    );
    return r.rows.map((row) => toJob(row));
  }

  /**
   * Puts a dead job back in the queue with fresh attempts (admin action) and answers it
   * as requeued, or null if no dead job has this id. `alongside` runs in the same
   * transaction (the file the job is about shows `queued` again): no worker of any
   * replica can claim the job before both are committed, so its outcome is never
   * overwritten by the requeue.
   */
  async retryDead(
    id: string,
    alongside?: (job: Job, tx: Queryable) => Promise<void>,
  ): Promise<Job | null> {
    return this.db.transaction(async (tx) => {
      const r = await tx.query<JobRow>(
        `UPDATE jobs SET status = 'queued', attempts = 0, run_at = now(), dead_at = NULL, updated_at = now()
          WHERE id = $1 AND status = 'dead' RETURNING *`,
        [id],
      );
      if (!r.rows[0]) return null;
      const job = toJob<Record<string, unknown>>(r.rows[0]);
      await alongside?.(job, tx);
      // delivered on commit
      await tx.query('SELECT pg_notify($1, $2)', [JOBS_CHANNEL, job.kind]);
      return job;
    });
  }

  /** deletes finished jobs older than `olderThanMs` (dead ones stay for admins); returns how many */
  async pruneDone(olderThanMs = 7 * 24 * 3600_000): Promise<number> {
    const r = await this.db.query(
      `DELETE FROM jobs WHERE status = 'done'
        AND updated_at < now() - make_interval(secs => $1::double precision / 1000)`,
      [olderThanMs],
    );
    return r.rowCount;
  }

  /** counts by status, for /metrics or an admin page */
  async stats(): Promise<Record<JobStatus, number>> {
    const r = await this.db.query<{ status: JobStatus; n: string | number }>(
      'SELECT status, count(*) AS n FROM jobs GROUP BY status',
    );
    const out: Record<JobStatus, number> = { queued: 0, running: 0, done: 0, dead: 0 };
    for (const row of r.rows) out[row.status] = Number(row.n);
    return out;
  }
}
