import { parentPort } from 'node:worker_threads';
import { type DocumentLimits, extractDocument } from './extract-document';
import { ExtractionError } from './extraction.types';

/** What the pool sends: one file to read. */
export interface ExtractionRequest {
  id: number;
  data: Uint8Array;
  mime: string;
  limits: DocumentLimits;
}

/** What the worker answers: the document, or why the file cannot be read. */
export type ExtractionReply =
  | { id: number; ok: true; doc: Awaited<ReturnType<typeof extractDocument>> }
  | { id: number; ok: false; reason: ExtractionError['reason']; message: string };

/**
 * Entry point of an extraction worker thread: reads files one at a time, so a
 * parser that runs away (memory, CPU, recursion) hits this thread's heap limit
 * or the pool's time limit, never the gateway's event loop.
 */
parentPort?.on('message', (req: ExtractionRequest) => {
  const buf = Buffer.from(req.data.buffer, req.data.byteOffset, req.data.byteLength);
  extractDocument(buf, req.mime, req.limits).then(
    (doc) => parentPort!.postMessage({ id: req.id, ok: true, doc } satisfies ExtractionReply),
    (err: unknown) => {
      const e =
        err instanceof ExtractionError
          ? err
          : new ExtractionError(
              'corrupt',
              `The file could not be read: ${err instanceof Error ? err.message : String(err)}`,
            );
      parentPort!.postMessage({
        id: req.id,
        ok: false,
        reason: e.reason,
        message: e.message,
      } satisfies ExtractionReply);
    },
  );
});
