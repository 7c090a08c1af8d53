import type { Principal } from '@switchboard/auth';
import {
  type SegmentLocation,
  visibilityParams,
  visibleFilePredicate,
} from '@switchboard/datasources';
import type { Database, Queryable } from '@switchboard/storage';
import type { Chunk } from '../chunking/chunker';
import { toVectorLiteral } from '../embedding/embedder.port';

/** A chunk as a search ranks it, with the name of its file. */
export interface ChunkHitRow {
  id: string;
  file_id: string;
  name: string;
  ord: number;
  text: string;
  location: SegmentLocation | string;
}

/** Search restrictions; null = no restriction. Visibility always applies. */
export interface ChunkFilter {
  fileIds: string[] | null;
  tags: string[] | null;
}

/** the ready-file and caller-filter conditions, from parameter `first` on */
function filterSql(first: number): string {
  return `f.status = 'ready'
      AND ($${first}::text[] IS NULL OR f.id = ANY($${first}::text[]))
      AND ($${first + 1}::text[] IS NULL OR f.tags && $${first + 1}::text[])`;
}

/**
 * The `chunks` table: writes the chunks of one file and runs the two rankings
 * of retrieval. The visibility predicate sits inside both statements, so a
 * chunk the caller may not read is never even a candidate. Whether vectors can be stored is decided once:
 * pgvector present AND the embedding migration applied.
 */
export class ChunkIndexRepository {
  #vector?: Promise<boolean>;

  constructor(private readonly db: Database) {}

  /** whether the database has pgvector at all */
  get hasVectorExtension(): boolean {
    return this.db.hasVector;
  }

  /** the size of the stored vectors (`chunks.embedding`), null without a vector column */
  async vectorDimensions(): Promise<number | null> {
    if (!this.db.hasVector) return null;
    const r = await this.db.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = to_regclass('chunks') AND attname = 'embedding' AND NOT attisdropped`,
    );
    const m = /^vector\((\d+)\)$/.exec(r.rows[0]?.type ?? '');
    return m ? Number(m[1]) : null;
  }

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

  /**
   * Full-text ranking. Candidates match all terms (websearch syntax: quotes, OR,
   * -exclusions) or any term, so a natural-language question still finds text;
   * all-terms matches rank first, then cover density (how many terms, how close).
   * (A per-query IDF weighting was measured too: no better on eval/rag, slower.)
   * `cfg` is a validated text search configuration name.
   */
  async searchText(
    principal: Principal,
    q: string,
    cfg: string,
    filter: ChunkFilter,
    limit: number,
  ): Promise<ChunkHitRow[]> {
    const r = await this.db.query<ChunkHitRow>(
      `WITH q AS (
         SELECT websearch_to_tsquery('${cfg}', $3) AS allq,
                (SELECT string_agg('''' || replace(replace(l, '\\', '\\\\'), '''', '''''') || '''', ' | ')
                   FROM unnest(tsvector_to_array(to_tsvector('${cfg}', $3))) AS l)::tsquery AS anyq)
       SELECT c.id::text AS id, c.file_id, f.name, c.ord, c.text, c.location
         FROM chunks c
         JOIN files f ON f.id = c.file_id
         CROSS JOIN q
        WHERE ${visibleFilePredicate('f', 1, 2)}
          AND ${filterSql(4)}
          AND (c.tsv @@ q.allq OR c.tsv @@ q.anyq)
        ORDER BY (CASE WHEN c.tsv @@ q.allq THEN 1 ELSE 0 END) + ts_rank_cd(c.tsv, coalesce(q.anyq, q.allq)) DESC, c.id
        LIMIT $6`,
      [...visibilityParams(principal), q, filter.fileIds, filter.tags, limit],
    );
    return r.rows;
  }

  /** cosine ranking over the HNSW index, vectors of `modelId` only */
  async searchVector(
    principal: Principal,
    vector: number[],
    modelId: string,
    filter: ChunkFilter,
    limit: number,
  ): Promise<ChunkHitRow[]> {
    return this.db.transaction(async (tx: Queryable) => {
      // a filtered HNSW scan returns at most ef_search rows: widen it to the candidates wanted
      await tx.query(`SET LOCAL hnsw.ef_search = ${Math.min(1000, Math.max(40, limit * 2))}`);
      const r = await tx.query<ChunkHitRow>(
        `SELECT c.id::text AS id, c.file_id, f.name, c.ord, c.text, c.location
           FROM chunks c
           JOIN files f ON f.id = c.file_id
          WHERE ${visibleFilePredicate('f', 1, 2)}
            AND ${filterSql(4)}
            AND c.embedding IS NOT NULL AND c.embedding_model = $6
          ORDER BY c.embedding <=> $3::vector, c.id
          LIMIT $7`,
        [
          ...visibilityParams(principal),
          toVectorLiteral(vector),
          filter.fileIds,
          filter.tags,
          modelId,
          limit,
        ],
      );
      return r.rows;
    });
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
