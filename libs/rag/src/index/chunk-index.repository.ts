import type { Database, Queryable } from '@switchboard/storage';
import type { Chunk } from '../chunking/chunker';
import { toVectorLiteral } from '../embedding/embedder.port';

/**
 * Writes chunks of one file. Whether vectors can be stored is decided once:
 * pgvector present AND the embedding migration applied.
 */
export class ChunkIndexRepository {
  #vector?: Promise<boolean>;

  constructor(private readonly db: Database) {}

  /** true when `chunks.embedding` exists (pgvector and migration 0301 applied) */
  vectorColumn(): Promise<boolean> {
    this.#vector ??= (async () => {
      if (!this.db.hasVector) return false;
      const r = await this.db.query(
        `SELECT 1 FROM information_schema.columns
          WHERE table_name = 'chunks' AND column_name = 'embedding' AND table_schema = current_schema()`,
      );
      return r.rowCount > 0;
    })();
    return this.#vector;
  }

  /** replaces every chunk of `fileId` (idempotent: a retried job rewrites the same rows) */
  async replaceFileChunks(
    tx: Queryable,
    fileId: string,
    chunks: Chunk[],
    embedding: { modelId: string; vectors: number[][] } | null,
  ): Promise<void> {
    await tx.query('DELETE FROM chunks WHERE file_id = $1', [fileId]);
    const BATCH = 500;
    for (let i = 0; i < chunks.length; i += BATCH) {
      const part = chunks.slice(i, i + BATCH);
      const params: unknown[] = [
        fileId,
        part.map((c) => c.index),
        part.map((c) => c.text),
        part.map((c) => JSON.stringify(c.location)),
        part.map((c) => c.charStart),
        part.map((c) => c.charEnd),
        part.map((c) => c.tokens),
      ];
      if (embedding) {
        params.push(embedding.modelId, embedding.vectors.slice(i, i + BATCH).map(toVectorLiteral));
        await tx.query(
          `INSERT INTO chunks (file_id, ord, text, location, char_start, char_end, tokens, embedding_model, embedding)
           SELECT $1, u.ord, u.text, u.loc::jsonb, u.cs, u.ce, u.tk, $8, u.emb::vector
             FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $9::text[])
                  AS u(ord, text, loc, cs, ce, tk, emb)`,
          params,
        );
      } else {
        await tx.query(
          `INSERT INTO chunks (file_id, ord, text, location, char_start, char_end, tokens)
           SELECT $1, u.ord, u.text, u.loc::jsonb, u.cs, u.ce, u.tk
             FROM unnest($2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[])
                  AS u(ord, text, loc, cs, ce, tk)`,
          params,
        );
      }
    }
  }
}
