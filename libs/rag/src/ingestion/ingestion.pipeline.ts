import { buffer } from 'node:stream/consumers';
import {
  type BlobStore,
  ExtractionError,
  type DocumentExtractor,
  type FilesService,
  type IngestFilePayload,
  type Job,
  type JobContext,
  type JobHandler,
  PermanentJobError,
} from '@switchboard/datasources';
import { isAppError } from '@switchboard/common';
import { estimateTextTokens } from '@switchboard/llm';
import type { Database } from '@switchboard/storage';
import { type ChunkerOptions, chunkSegments, documentText } from '../chunking/chunker';
import type { Embedder } from '../embedding/embedder.port';
import type { ChunkIndexRepository } from '../index/chunk-index.repository';

export interface IngestionPipelineOptions {
  chunking?: ChunkerOptions;
  /** texts per embedding request (default 64) */
  embedBatchSize?: number;
}

/**
 * The `ingest_file` job: extract -> chunk -> embed (batched) -> index, moving the
 * file `queued -> processing -> ready | failed`. Re-running it rewrites the same
 * rows, so a retried or reclaimed job is harmless; a file deleted meanwhile is
 * skipped. Bad input (encrypted, corrupt, empty) fails the file at once with
 * the reason; other errors are retried by the queue and fail the file only
 * when the job is dead-lettered.
 */
export class IngestionPipeline implements JobHandler<IngestFilePayload> {
  constructor(
    private readonly db: Database,
    private readonly files: FilesService,
    private readonly blobs: BlobStore,
    private readonly extraction: DocumentExtractor,
    private readonly index: ChunkIndexRepository,
    private readonly embedder: Embedder | null,
    private readonly options: IngestionPipelineOptions = {},
  ) {}

  async run({ fileId }: IngestFilePayload, ctx: JobContext): Promise<void> {
    const file = await this.files.findStored(fileId);
    if (!file) return; // deleted before we got to it
    await this.files.setStatus(fileId, 'processing');

    let bytes: Buffer;
    try {
      bytes = await buffer(await this.blobs.get(file.blobKey));
    } catch (err) {
      if (isAppError(err) && err.code === 'not_found')
        throw new PermanentJobError('The stored file is missing.', { cause: err });
      throw err;
    }

    let doc;
    try {
      doc = await this.extraction.extract(bytes, file.mime, ctx.signal);
    } catch (err) {
      if (err instanceof ExtractionError) throw new PermanentJobError(err.message, { cause: err });
      throw err;
    }
    ctx.signal.throwIfAborted();

    const chunks = chunkSegments(doc.segments, this.options.chunking);
    let embedding: { modelId: string; vectors: number[][] } | null = null;
    if (this.embedder && (await this.index.vectorColumn())) {
      const vectors: number[][] = [];
      const batch = this.options.embedBatchSize ?? 64;
      for (let i = 0; i < chunks.length; i += batch) {
        ctx.signal.throwIfAborted();
        vectors.push(
          ...(await this.embedder.embed(
            chunks.slice(i, i + batch).map((c) => c.text),
            ctx.signal,
          )),
        );
      }
      embedding = { modelId: this.embedder.modelId, vectors };
    }
    ctx.signal.throwIfAborted();

    const text = documentText(doc.segments);
    await this.db.transaction(async (tx) => {
      // a concurrent delete either happened before (skip) or waits for this transaction
      if (!(await this.files.lockForIngestion(fileId, tx))) return;
      await this.files.saveText(
        fileId,
        {
          segments: doc.segments,
          chars: text.length,
          tokens: estimateTextTokens(text),
          pages: doc.pages ?? null,
        },
        tx,
      );
      await this.index.replaceFileChunks(tx, fileId, chunks, embedding);
      await this.files.setStatus(fileId, 'ready', null, tx);
    });
  }

  async onDead(
    { fileId }: IngestFilePayload,
    error: string,
    job: Job<IngestFilePayload>,
  ): Promise<void> {
    // dead before its last attempt = a permanent error, whose message is the reason
    const reason =
      job.attempts < job.maxAttempts
        ? error
        : `Ingestion failed after ${job.attempts} attempts: ${error}`;
    await this.files.setStatus(fileId, 'failed', reason);
  }
}
