import type { Principal } from '@switchboard/auth';
import type { SegmentLocation } from '@switchboard/datasources';
import type { Embedder } from '../embedding/embedder.port';
import type { ChunkHitRow, ChunkIndexRepository } from '../index/chunk-index.repository';
import { DEFAULT_TEXT_SEARCH_CONFIG, assertTextSearchConfig } from '../index/rag.migrations';

export interface SearchOptions {
  /** restrict to these files (still subject to visibility) */
  fileIds?: string[];
  /** restrict to files carrying any of these tags */
  tags?: string[];
  /** results wanted (default 8, at most 100) */
  k?: number;
  /** force one ranking (evaluation); default: hybrid when available */
  mode?: 'hybrid' | 'fulltext' | 'vector';
  signal?: AbortSignal;
}

export interface SearchHit {
  chunkId: string;
  fileId: string;
  fileName: string;
  ord: number;
  text: string;
  location: SegmentLocation;
  /** fused score (reciprocal rank fusion), higher is better */
  score: number;
  /** 1-based ranks in the two lists, when present */
  fulltextRank?: number;
  vectorRank?: number;
}

export interface RetrievalDescription {
  mode: 'hybrid' | 'fulltext';
  reason: string;
}

export interface RetrievalLogger {
  warn(message: string): void;
}

/** Cormack, Clarke & Büttcher (2009): k = 60 */
export const RRF_K = 60;

/**
 * Hybrid retrieval over the chunk index: a full-text ranking (websearch syntax;
 * all terms > any term) and a vector ranking (cosine, HNSW) fused by reciprocal
 * rank fusion. The visibility predicate sits inside both SQL statements, so a
 * chunk the caller may not read is never even a candidate.
 */
export class RetrievalService {
  readonly #cfg: string;
  #vectorReady?: Promise<RetrievalDescription>;

  constructor(
    private readonly index: ChunkIndexRepository,
    private readonly embedder: Embedder | null,
    options: { textSearchConfig?: string; logger?: RetrievalLogger } = {},
  ) {
    this.#cfg = assertTextSearchConfig(options.textSearchConfig ?? DEFAULT_TEXT_SEARCH_CONFIG);
    this.logger = options.logger;
  }

  private readonly logger?: RetrievalLogger;

  /** for /ready details */
  describe(): Promise<RetrievalDescription> {
    this.#vectorReady ??= (async (): Promise<RetrievalDescription> => {
      if (!this.embedder) return { mode: 'fulltext', reason: 'no embedding model configured' };
      if (!this.index.hasVectorExtension)
        return { mode: 'fulltext', reason: 'the database has no pgvector extension' };
      if (!(await this.index.vectorColumn()))
        return { mode: 'fulltext', reason: 'the embedding migration has not been applied' };
      return {
        mode: 'hybrid',
        reason: `full-text + vectors of ${this.embedder.modelId} (${this.embedder.dimensions} dimensions)`,
      };
    })();
    return this.#vectorReady;
  }

  async search(
    principal: Principal,
    query: string,
    options: SearchOptions = {},
  ): Promise<SearchHit[]> {
    const k = Math.min(Math.max(1, options.k ?? 8), 100);
    const q = query.trim().slice(0, 4000);
    if (!q) return [];
    const candidates = Math.max(k * 4, 20);
    const hybrid = (await this.describe()).mode === 'hybrid';
    const wantVector = hybrid && options.mode !== 'fulltext';
    const wantText = options.mode !== 'vector' || !wantVector;

    const [text, vector] = await Promise.all([
      wantText ? this.fulltext(principal, q, options, candidates) : Promise.resolve([]),
      wantVector ? this.vectorSearch(principal, q, options, candidates) : Promise.resolve([]),
    ]);
    return fuse(text, vector, k);
  }

  private fulltext(
    principal: Principal,
    q: string,
    o: SearchOptions,
    limit: number,
  ): Promise<ChunkHitRow[]> {
    return this.index.searchText(principal, q, this.#cfg, filterOf(o), limit);
  }

  private async vectorSearch(
    principal: Principal,
    q: string,
    o: SearchOptions,
    limit: number,
  ): Promise<ChunkHitRow[]> {
    const embedder = this.embedder!;
    let vector: number[];
    try {
      [vector] = await embedder.embed([q], o.signal);
    } catch (err) {
      // retrieval degrades to full-text rather than failing the chat
      this.logger?.warn(`query embedding failed, full-text only: ${(err as Error).message}`);
      return [];
    }
    return this.index.searchVector(principal, vector, embedder.modelId, filterOf(o), limit);
  }
}

function filterOf(o: SearchOptions) {
  return { fileIds: o.fileIds ?? null, tags: o.tags ?? null };
}

/** reciprocal rank fusion of two ranked lists */
export function fuse(text: ChunkHitRow[], vector: ChunkHitRow[], k: number): SearchHit[] {
  const hits = new Map<string, SearchHit>();
  const add = (rows: ChunkHitRow[], key: 'fulltextRank' | 'vectorRank') =>
    rows.forEach((row, i) => {
      let h = hits.get(row.id);
      if (!h) {
        h = {
          chunkId: row.id,
          fileId: row.file_id,
          fileName: row.name,
          ord: row.ord,
          text: row.text,
          location:
            typeof row.location === 'string'
              ? (JSON.parse(row.location) as SegmentLocation)
              : row.location,
          score: 0,
        };
        hits.set(row.id, h);
      }
      h[key] = i + 1;
      h.score += 1 / (RRF_K + i + 1);
    });
  add(text, 'fulltextRank');
  add(vector, 'vectorRank');
  return [...hits.values()]
    .sort((a, b) => b.score - a.score || Number(a.chunkId) - Number(b.chunkId))
    .slice(0, k);
}
