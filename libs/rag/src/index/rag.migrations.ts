import type { Migration } from '@switchboard/storage';

export interface RagIndexOptions {
  /** embedding dimension of this deployment (default 1536); fixed once migrated */
  dimensions?: number;
  /** Postgres text search configuration (default 'english') */
  textSearchConfig?: string;
}

export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;
export const DEFAULT_TEXT_SEARCH_CONFIG = 'english';

export function assertTextSearchConfig(cfg: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(cfg))
    throw new Error(`invalid text search configuration "${cfg}"`);
  return cfg;
}

/**
 * The chunk index. Full-text lives in a generated `tsvector` column (GIN); the
 * embedding column and its HNSW (cosine) index come in a separate migration
 * that needs pgvector, so a PostgreSQL without it still gets full-text search.
 * The dimension is part of the column type: changing it later needs a new
 * migration (and re-embedding).
 */
export function createRagMigrations(options: RagIndexOptions = {}): Migration[] {
  const dims = options.dimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;
  // pgvector's HNSW index on `vector` supports up to 2000 dimensions; larger
  // models can be shortened with the `dimensions` request parameter.
  if (!Number.isInteger(dims) || dims < 1 || dims > 2000)
    throw new Error(`embedding dimensions must be an integer in 1..2000, got ${dims}`);
  const cfg = assertTextSearchConfig(options.textSearchConfig ?? DEFAULT_TEXT_SEARCH_CONFIG);
  return [
    {
      id: '0300_rag_chunks',
      up: `
        CREATE TABLE chunks (
          id              bigserial   PRIMARY KEY,
          file_id         text        NOT NULL REFERENCES files (id) ON DELETE CASCADE,
          ord             integer     NOT NULL,
          text            text        NOT NULL,
          location        jsonb       NOT NULL DEFAULT '{}',
          char_start      integer     NOT NULL,
          char_end        integer     NOT NULL,
          tokens          integer     NOT NULL,
          embedding_model text,
          tsv             tsvector    GENERATED ALWAYS AS (to_tsvector('${cfg}'::regconfig, text)) STORED,
          created_at      timestamptz NOT NULL DEFAULT now(),
          UNIQUE (file_id, ord)
        );
        CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
      `,
    },
    {
      id: '0301_rag_chunk_embeddings',
      requiresVector: true,
      up: `
        ALTER TABLE chunks ADD COLUMN embedding vector(${dims});
        CREATE INDEX chunks_embedding_hnsw_idx ON chunks USING hnsw (embedding vector_cosine_ops);
      `,
    },
  ];
}

export const ragMigrations: Migration[] = createRagMigrations();
