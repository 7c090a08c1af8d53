import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_DOCUMENT_LIMITS, type DocumentLimits } from './extract-document';
import { ExtractionError, type ExtractedDocument } from './extraction.types';
import type { ExtractionReply, ExtractionRequest } from './extraction.worker';

/** Limits of document extraction (EXTRACTION_* variables). */
export interface ExtractionLimits extends DocumentLimits {
  /** worker threads reading files in parallel */
  workers: number;
  /** V8 old-space limit of each worker, in MB */
  maxHeapMb: number;
  /** wall-clock limit of one file; the worker is terminated past it */
  timeoutMs: number;
}

export const DEFAULT_EXTRACTION_LIMITS: ExtractionLimits = {
  ...DEFAULT_DOCUMENT_LIMITS,
  workers: 1,
  maxHeapMb: 512,
  timeoutMs: 120_000,
};

/** Reads documents; `ExtractionService` fits. */
export interface DocumentExtractor {
  /** @throws ExtractionError for input that cannot be read (never retried); anything else on abort */
  extract(buf: Buffer, mime: string, signal?: AbortSignal): Promise<ExtractedDocument>;
}

interface Waiter {
  resolve(worker: Worker): void;
  reject(err: unknown): void;
}

/**
 * Turns file bytes into located text segments in a small pool of worker
 * threads. Each worker has a V8 heap limit (`resourceLimits`) and each file a
 * wall-clock limit; a file that exhausts either ends with an `ExtractionError`
 * (the worker is terminated and replaced), so a PDF with a huge page tree, a
 * single-line CSV of 50 MB or any decompression bomb fails that file and never
 * takes the gateway's memory or event loop. Bad input is never thrown as
 * anything but `ExtractionError`, so the ingestion job fails the file with a
 * reason instead of retrying.
 */
export class ExtractionService implements DocumentExtractor {
  readonly limits: ExtractionLimits;
  readonly #idle: Worker[] = [];
  readonly #busy = new Set<Worker>();
  readonly #waiting: Waiter[] = [];
  #seq = 0;
  #closed = false;

  constructor(limits: Partial<ExtractionLimits> = {}) {
    this.limits = { ...DEFAULT_EXTRACTION_LIMITS, ...limits };
  }

  async extract(buf: Buffer, mime: string, signal?: AbortSignal): Promise<ExtractedDocument> {
    if (buf.length === 0) throw new ExtractionError('empty', 'The file is empty.');
    signal?.throwIfAborted();
    const worker = await this.#acquire();
    let healthy = false;
    try {
      const out = await this.#run(worker, buf, mime, signal);
      healthy = out.healthy;
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- an ExtractionError or the abort reason, as given
      if (out.error !== undefined) throw out.error;
      return out.doc!;
    } finally {
      this.#release(worker, healthy);
    }
  }

  /** worker threads alive now (idle or busy) */
  get size(): number {
    return this.#idle.length + this.#busy.size;
  }

  /** terminates the workers; extractions in flight fail */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w.reject(new Error('extraction service closed'));
    const all = [...this.#idle.splice(0), ...this.#busy];
    this.#busy.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  #acquire(): Promise<Worker> {
    if (this.#closed) return Promise.reject(new Error('extraction service closed'));
    const idle = this.#idle.pop();
    if (idle) {
      this.#busy.add(idle);
      return Promise.resolve(idle);
    }
    if (this.#busy.size < Math.max(1, this.limits.workers)) {
      const w = this.#spawn();
      this.#busy.add(w);
      return Promise.resolve(w);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #release(worker: Worker, healthy: boolean): void {
    this.#busy.delete(worker);
    if (!healthy || this.#closed) void worker.terminate();
    const next = this.#waiting.shift();
    if (next) {
      const w = healthy && !this.#closed ? worker : this.#spawn();
      this.#busy.add(w);
      next.resolve(w);
      return;
    }
    if (healthy && !this.#closed) {
      worker.unref(); // an idle pool never keeps the process alive
      this.#idle.push(worker);
    }
  }

  #spawn(): Worker {
    const heap = this.limits.maxHeapMb;
    const options = {
      resourceLimits: {
        maxOldGenerationSizeMb: heap,
        maxYoungGenerationSizeMb: Math.max(4, Math.min(32, Math.floor(heap / 8))),
        stackSizeMb: 4,
      },
      stdout: false,
      stderr: false,
    };
    const entry = join(__dirname, `extraction.worker${__filename.endsWith('.ts') ? '.ts' : '.js'}`);
    // Built code runs the compiled worker; from TypeScript sources (tests, `npm run dev`)
    // the worker compiles its own entry through @swc-node/register.
    const worker = entry.endsWith('.ts')
      ? new Worker(
          `require(${JSON.stringify(require.resolve('@swc-node/register'))}); require(${JSON.stringify(entry)});`,
          { ...options, eval: true },
        )
      : new Worker(entry, options);
    worker.unref();
    return worker;
  }

  #run(
    worker: Worker,
    buf: Buffer,
    mime: string,
    signal?: AbortSignal,
  ): Promise<{ healthy: boolean; doc?: ExtractedDocument; error?: unknown }> {
    const id = ++this.#seq;
    const { timeoutMs, maxHeapMb } = this.limits;
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: { healthy: boolean; doc?: ExtractedDocument; error?: unknown }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        worker.unref();
        resolve(r);
      };
      const onMessage = (m: ExtractionReply) => {
        if (m.id !== id) return;
        finish(
          m.ok
            ? { healthy: true, doc: m.doc }
            : { healthy: true, error: new ExtractionError(m.reason, m.message) },
        );
      };
      const onError = (err: Error & { code?: string }) =>
        finish({
          healthy: false,
          error:
            err.code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? new ExtractionError(
                  'too_large',
                  `Reading the file needs more than the ${maxHeapMb} MB of memory allowed.`,
                )
              : new ExtractionError('corrupt', `The file could not be read: ${err.message}`),
        });
      const onExit = () =>
        finish({
          healthy: false,
          error: new ExtractionError('corrupt', 'The file could not be read.'),
        });
      const onAbort = () =>
        finish({ healthy: false, error: signal?.reason ?? new Error('extraction aborted') });
      const timer = setTimeout(
        () =>
          finish({
            healthy: false,
            error: new ExtractionError(
              'timeout',
              `Reading the file took longer than ${Math.round(timeoutMs / 1000)} s.`,
            ),
          }),
        timeoutMs,
      );
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();
      worker.ref();
      // a copy the worker owns: the caller's buffer may be a view of a shared pool
      const data = new Uint8Array(buf);
      worker.postMessage(
        { id, data, mime, limits: this.#documentLimits() } satisfies ExtractionRequest,
        [data.buffer],
      );
    });
  }

  #documentLimits(): DocumentLimits {
    const { maxChars, maxUnzippedBytes, maxPdfPages } = this.limits;
    return { maxChars, maxUnzippedBytes, maxPdfPages };
  }
}
