import type { Queryable } from '@switchboard/storage';
import { MAX_ROWS_PER_INSERT, UsageLedgerRepository, usageValues } from './usage-ledger.repository';
import type { BillingLogger } from './billing.logger';
import type { ScopeType, UsageRow } from './billing.types';

export interface UsageLedgerOptions {
  /** rows per INSERT; a full batch flushes at once (default 200) */
  batchSize?: number;
  /** a partial batch waits at most this long (default 500 ms) */
  flushIntervalMs?: number;
  /** rows kept in memory while the database is failing; beyond it the oldest are dropped (default 100 000) */
  maxBufferedRows?: number;
  /** first retry delay after a failed flush, doubled up to `maxRetryDelayMs` (default 200 ms / 30 s) */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  logger?: BillingLogger;
  now?: () => number;
}

interface Pending {
  key: string;
  params: unknown[];
}

const STATUSES = new Set(['complete', 'cancelled', 'error']);

/** why a row can never be written, or undefined when it looks fine */
function invalid(r: UsageRow): string | undefined {
  for (const f of ['requestId', 'userId', 'model', 'provider'] as const) {
    if (typeof r[f] !== 'string' || r[f].length === 0) return `${f} missing`;
  }
  if (!Number.isSafeInteger(r.attempt) || r.attempt < 0)
    return 'attempt must be a non-negative integer';
  if (!STATUSES.has(r.status)) return `unknown status ${String(r.status)}`;
  return undefined;
}

/**
 * SQLSTATE classes 22 (data exception) and 23 (integrity violation): the row
 * itself is bad and retrying cannot help. Anything else (connection lost,
 * timeouts, server restarting) is worth retrying.
 */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Append-only usage ledger, written off the hot path.
 *
 * `record()` only queues (never awaits I/O, never throws). Rows go out in
 * batches as one multi-row `INSERT ... ON CONFLICT (request_id, attempt) DO
 * NOTHING`, so a retried flush, a second record of the same call, or two
 * replicas writing the same row all leave exactly one row. A failed flush keeps
 * its rows and retries with exponential backoff; `flush()` drains everything
 * and is what shutdown calls (after streams have finished) so SIGTERM loses
 * nothing while the database is reachable.
 */
export class UsageLedger {
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBufferedRows: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly logger: BillingLogger | undefined;
  private readonly now: () => number;

  private queue: Pending[] = [];
  /** keys queued or in flight: a second record of the same call before it is written is dropped here */
  private readonly known = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  private retryAt = 0;
  private dropped = 0;

  private readonly rows: UsageLedgerRepository;

  constructor(db: Queryable, opts: UsageLedgerOptions = {}) {
    this.rows = new UsageLedgerRepository(db);
    this.batchSize = Math.max(1, Math.min(opts.batchSize ?? 200, MAX_ROWS_PER_INSERT));
    this.flushIntervalMs = opts.flushIntervalMs ?? 500;
    this.maxBufferedRows = opts.maxBufferedRows ?? 100_000;
    this.retryDelayMs = opts.retryDelayMs ?? 200;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 30_000;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
  }

  /** rows waiting to be written */
  get pending(): number {
    return this.queue.length;
  }

  /** rows discarded because the buffer was full (database down for a long time) */
  get droppedRows(): number {
    return this.dropped;
  }

  /** queues one row; returns immediately */
  record(row: UsageRow): void {
    try {
      const problem = invalid(row);
      if (problem) {
        this.logger?.error(`usage ledger rejected a row (${problem}): ${JSON.stringify(row)}`);
        return;
      }
      const key = `${row.requestId}\u0000${row.attempt}`;
      if (this.known.has(key)) return;
      this.known.add(key);
      this.queue.push({ key, params: usageValues(row, row.createdAt ?? new Date(this.now())) });
      if (this.queue.length > this.maxBufferedRows) {
        const drop = this.queue.splice(0, this.queue.length - this.maxBufferedRows);
        for (const d of drop) this.known.delete(d.key);
        this.dropped += drop.length;
        this.logger?.error(
          `usage ledger buffer full (${this.maxBufferedRows} rows): dropped ${drop.length} oldest rows, ${this.dropped} in total; billing data is being lost`,
        );
      }
      if (this.queue.length >= this.batchSize && this.now() >= this.retryAt) this.kick();
      else this.schedule(this.flushIntervalMs);
    } catch (err) {
      this.logger?.error(
        `usage ledger record failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  /**
   * Writes everything queued, retrying with backoff until the queue is empty or
   * `timeoutMs` (default 10 s) passes; then logs what it could not write.
   */
  async flush(opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = this.now() + (opts.timeoutMs ?? 10_000);
    this.clearTimer();
    for (;;) {
      // a hung database must not hang shutdown: every wait is bounded by the deadline
      if (this.inFlight) {
        const settled = await this.until(
          this.inFlight.then(() => true),
          deadline,
        );
        if (!settled) return this.giveUp();
        continue;
      }
      if (this.queue.length === 0) return;
      const ok = await this.until(this.runBatch(), deadline);
      if (ok === undefined) return this.giveUp();
      if (ok) continue;
      const wait = Math.min(this.backoff(), deadline - this.now());
      if (wait <= 0) return this.giveUp();
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private giveUp(): void {
    const left = this.queue.length + (this.inFlight ? 1 : 0);
    this.logger?.error(
      `usage ledger flush gave up with ${this.queue.length} rows unwritten${this.inFlight ? ' and a batch still in flight' : ''}`,
    );
    if (left > 0) this.schedule(this.backoff());
  }

  /** resolves with p's value, or undefined once `deadline` passes first */
  private async until<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - this.now()));
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the background timer (after a final `flush()`). */
  close(): void {
    this.clearTimer();
  }

  /** Total cost recorded for a scope since `since` (inclusive); rebuilds budget spend at boot. */
  async spentSince(scopeType: ScopeType, scopeId: string, since: Date): Promise<number> {
    return this.rows.spentSince(scopeType, scopeId, since);
  }

  private backoff(): number {
    return Math.min(this.maxRetryDelayMs, this.retryDelayMs * 2 ** Math.max(0, this.failures - 1));
  }

  private kick(): void {
    if (this.inFlight) return;
    this.clearTimer();
    void this.runBatch().then((ok) => {
      if (this.queue.length === 0) return;
      if (!ok) this.schedule(this.backoff());
      else if (this.queue.length >= this.batchSize) this.kick();
      else this.schedule(this.flushIntervalMs);
    });
  }

  private schedule(ms: number): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, ms);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** writes one batch; resolves true on success, false after a failure (rows kept). Never rejects. */
  private runBatch(): Promise<boolean> {
    const batch = this.queue.splice(0, this.batchSize);
    if (batch.length === 0) return Promise.resolve(true);
    const run = this.write(batch).then(
      (retry) => {
        for (const p of batch) if (!retry.includes(p)) this.known.delete(p.key);
        if (retry.length === 0) {
          this.failures = 0;
          this.retryAt = 0;
          return true;
        }
        // put the rows back in front, in order, to be retried
        this.queue.unshift(...retry);
        this.failures++;
        this.retryAt = this.now() + this.backoff();
        return false;
      },
      // write() never rejects; this is belt and braces so the queue keeps its rows
      () => {
        this.queue.unshift(...batch);
        this.failures++;
        this.retryAt = this.now() + this.backoff();
        return false;
      },
    );
    this.inFlight = run.then(() => undefined);
    return run.finally(() => {
      this.inFlight = undefined;
    });
  }

  /**
   * Inserts a batch; resolves with the rows to retry. When the database rejects
   * the batch for its content, rows are retried one by one so a single bad row
   * is dropped (and logged) instead of blocking every row behind it forever.
   */
  private async write(batch: Pending[]): Promise<Pending[]> {
    try {
      await this.insert(batch);
      return [];
    } catch (err) {
      if (!isDataError(err) || batch.length === 1) {
        if (isDataError(err)) {
          this.logger?.error(
            `usage ledger dropped a row the database rejects: ${message(err)}; ${JSON.stringify(batch[0].params)}`,
          );
          return [];
        }
        this.logger?.warn(
          `usage ledger flush of ${batch.length} rows failed (will retry): ${message(err)}`,
        );
        return batch;
      }
    }
    const retry: Pending[] = [];
    for (const p of batch) retry.push(...(await this.write([p])));
    return retry;
  }

  private async insert(batch: Pending[]): Promise<void> {
    await this.rows.insertMany(batch.map((p) => p.params));
  }
}
