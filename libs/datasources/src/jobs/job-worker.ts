import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, JobQueue } from './job-queue';

/** Thrown by a handler when retrying cannot help (corrupt input): dead-letter now. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentJobError';
  }
}

export interface JobContext {
  /** aborted when the worker stops without waiting, or loses the lease */
  signal: AbortSignal;
  attempt: number;
  maxAttempts: number;
  jobId: string;
}

export interface JobHandler<P = Record<string, unknown>> {
  run(payload: P, ctx: JobContext): Promise<void>;
  /** called once when the job is dead-lettered (no attempts left or permanent error) */
  onDead?(payload: P, error: string, job: Job<P>): Promise<void>;
}

export interface JobWorkerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobWorkerOptions {
  /** stable per process; default `<hostname>:<pid>:<random>` */
  workerId?: string;
  /** parallel jobs in this process (default 1) */
  concurrency?: number;
  /**
   * Longest idle wait (default 30 s). An idle worker sleeps until the next
   * queued job is due or a running lease runs out, at most this long; a job
   * enqueued on any replica wakes it at once (LISTEN/NOTIFY), as does `wake()`.
   */
  pollMs?: number;
  /**
   * While polls keep finding nothing, the wait doubles from `pollMs` up to this (default:
   * `pollMs`, no backoff). Long idle waits let a serverless database pause; a job
   * enqueued in this process still starts at once through `wake()`.
   */
  maxIdlePollMs?: number;
  /**
   * Wake on jobs enqueued anywhere through the queue's notifications (default true). With
   * false the worker holds no database session between polls: only `wake()`, due jobs and
   * the poll interval start work (a serverless database can pause meanwhile).
   */
  listen?: boolean;
  /** lease length; renewed every third of it while the job runs (default 60 s) */
  leaseMs?: number;
  /** an attempt running longer fails (its signal is aborted) (default 15 min) */
  jobTimeoutMs?: number;
  logger?: JobWorkerLogger;
}

const silent: JobWorkerLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Runs queued jobs with registered handlers. `start()` begins polling; `stop()`
 * stops claiming, waits up to `graceMs` for the jobs in flight and then aborts
 * them and releases their leases (without counting the attempt), so a deploy
 * never strands a job until its lease expires.
 */
export class JobWorker {
  readonly workerId: string;
  readonly #handlers = new Map<string, JobHandler>();
  readonly #inFlight = new Map<string, { done: Promise<void>; abort: AbortController }>();
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #maxIdlePollMs: number;
  readonly #listen: boolean;
  readonly #leaseMs: number;
  readonly #jobTimeoutMs: number;
  readonly #log: JobWorkerLogger;
  #running = false;
  #loops: Promise<void>[] = [];
  #wakers = new Set<() => void>();
  #unlisten?: Promise<(() => Promise<void>) | undefined>;
  #waiting = 0;

  constructor(
    private readonly queue: JobQueue,
    options: JobWorkerOptions = {},
  ) {
    this.workerId =
      options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#pollMs = options.pollMs ?? 30_000;
    this.#maxIdlePollMs = Math.max(this.#pollMs, options.maxIdlePollMs ?? this.#pollMs);
    this.#listen = options.listen ?? true;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#jobTimeoutMs = options.jobTimeoutMs ?? 15 * 60_000;
    this.#log = options.logger ?? silent;
  }

  register<P>(kind: string, handler: JobHandler<P>): this {
    this.#handlers.set(kind, handler as unknown as JobHandler);
    return this;
  }

  get running(): boolean {
    return this.#running;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** loops waiting for work (for tests and diagnostics) */
  get waiting(): number {
    return this.#waiting;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    if (this.#listen)
      this.#unlisten = this.queue
        .onQueued(() => this.wake())
        .catch((e: unknown) => {
          // still correct without it: idle waits end at the next due job or pollMs
          this.#log.warn(
            `job worker ${this.workerId}: no enqueue notifications (${(e as Error).message})`,
          );
          return undefined;
        });
    this.#loops = Array.from({ length: this.#concurrency }, () => this.loop());
  }

  /**
   * For a single-process database (embedded PGlite), before `start()`: jobs
   * still `running` were cut off by the last stop. They are queued again, and
   * those that had used their last attempt are dead-lettered and their handlers
   * told (`onDead`), as if they had failed here: a file must not stay
   * `processing` forever.
   */
  async recoverOrphans(): Promise<{ requeued: number; dead: number }> {
    const r = await this.queue.recoverOrphans();
    for (const job of r.dead) await this.deadLettered(job);
    return { requeued: r.requeued, dead: r.dead.length };
  }

  /** skip the idle wait (call after enqueueing in this process) */
  wake(): void {
    for (const w of this.#wakers) w();
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.wake();
    const inFlight = [...this.#inFlight.values()];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(inFlight.map((j) => j.done)).then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const [id, j] of this.#inFlight) {
        j.abort.abort(new Error('worker stopping'));
        await this.queue.release(id, this.workerId).catch(() => undefined);
      }
    }
    await Promise.allSettled(this.#loops);
    this.#loops = [];
    const unlisten = await this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }

  /** claims and runs at most one job; for tests and manual draining */
  async runOnce(): Promise<boolean> {
    const kinds = [...this.#handlers.keys()];
    if (kinds.length === 0) return false;
    for (const dead of await this.queue.reapExpired(kinds)) await this.deadLettered(dead);
    const job = await this.queue.claim(kinds, this.workerId, this.#leaseMs);
    if (!job) return false;
    const abort = new AbortController();
    const done = this.execute(job, abort);
    this.#inFlight.set(job.id, { done, abort });
    try {
      await done;
    } finally {
      this.#inFlight.delete(job.id);
    }
    return true;
  }

  private async loop(): Promise<void> {
    let idlePolls = 0;
    while (this.#running) {
      let worked = false;
      try {
        worked = await this.runOnce();
      } catch (err) {
        this.#log.error(`job worker ${this.workerId}: ${(err as Error).message}`);
      }
      idlePolls = worked ? 0 : idlePolls + 1;
      if (!worked && this.#running)
        await this.idle(idleWait(this.#pollMs, this.#maxIdlePollMs, idlePolls));
    }
  }

  /**
   * Waits for a wake-up (enqueue notification, `wake()`), the next due job or
   * lease expiry, or `capMs` (the idle backoff), whichever comes first. The waker
   * is registered before the next-due query, so a job committed in between is
   * never missed.
   */
  private async idle(capMs: number): Promise<void> {
    let woken = false;
    let resolveWait: (() => void) | undefined;
    const done = () => {
      woken = true;
      resolveWait?.();
    };
    this.#wakers.add(done);
    try {
      let waitMs = capMs;
      try {
        const due = await this.queue.nextDueInMs([...this.#handlers.keys()]);
        if (due !== undefined) waitMs = Math.min(waitMs, due);
      } catch (err) {
        this.#log.error(`job worker ${this.workerId}: ${(err as Error).message}`);
      }
      if (woken || !this.#running) return;
      this.#waiting++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        resolveWait = () => {
          clearTimeout(t);
          resolve();
        };
      });
    } finally {
      if (resolveWait) this.#waiting--;
      this.#wakers.delete(done);
    }
  }

  private async deadLettered(job: Job): Promise<void> {
    const message = job.lastError ?? 'unknown error';
    this.#log.warn(
      `job ${job.id} (${job.kind}) dead-lettered after ${job.attempts} attempt(s): ${message}`,
    );
    const handler = this.#handlers.get(job.kind);
    await handler
      ?.onDead?.(job.payload, message, job)
      .catch((e: unknown) => this.#log.error(`onDead of job ${job.id}: ${(e as Error).message}`));
  }

  private async execute(job: Job, abort: AbortController): Promise<void> {
    const handler = this.#handlers.get(job.kind);
    if (!handler) return;
    const renew = setInterval(
      () => {
        this.queue.extendLease(job.id, this.workerId, this.#leaseMs).then(
          (held) => {
            if (!held) abort.abort(new Error('lease lost'));
          },
          () => undefined,
        );
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    );
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        abort.abort(new Error('job timed out'));
        reject(new Error(`timed out after ${this.#jobTimeoutMs} ms`));
      }, this.#jobTimeoutMs);
    });
    try {
      await Promise.race([
        handler.run(job.payload, {
          signal: abort.signal,
          attempt: job.attempts,
          maxAttempts: job.maxAttempts,
          jobId: job.id,
        }),
        timeout,
      ]);
      if (timedOut) throw new Error(`timed out after ${this.#jobTimeoutMs} ms`);
      clearInterval(renew);
      if (abort.signal.aborted) return; // released or lost while finishing
      await this.queue.complete(job.id, this.workerId);
    } catch (err) {
      clearInterval(renew);
      // released by stop() or lease lost: not a failed attempt of ours
      if (abort.signal.aborted && !timedOut) return;
      const message = timedOut
        ? `timed out after ${this.#jobTimeoutMs} ms`
        : err instanceof Error
          ? err.message
          : String(err);
      const permanent = err instanceof PermanentJobError;
      const status = await this.queue.fail(job.id, this.workerId, message, { permanent });
      if (status === 'dead') {
        await this.deadLettered({ ...job, status: 'dead', lastError: message });
      } else if (status === 'queued') {
        this.#log.warn(`job ${job.id} (${job.kind}) attempt ${job.attempts} failed: ${message}`);
      }
    } finally {
      clearInterval(renew);
      clearTimeout(timer);
    }
  }
}

/** Wait after the `idlePolls`-th empty poll in a row: pollMs, doubling, capped at maxMs. */
export function idleWait(pollMs: number, maxMs: number, idlePolls: number): number {
  return Math.min(maxMs, pollMs * 2 ** Math.max(0, Math.min(idlePolls - 1, 30)));
}
