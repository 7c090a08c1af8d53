import type { Principal } from '@switchboard/auth';
import { parseJson, type Database, type Queryable } from '@switchboard/storage';
import type { TextSegment } from '../extraction/extraction.types';
import { visibilityParams, visibleFilePredicate } from './file-visibility';

/** The extracted text of one file, as ingestion stores it. */
export interface FileText {
  segments: TextSegment[];
  chars: number;
  tokens: number;
  /** PDF only */
  pages: number | null;
}

/**
 * The `file_texts` table (created by the datasources migrations): one row per
 * ingested file, deleted with its file. Reads are always under the file
 * visibility predicate; other modules reach it through `FilesService`.
 */
export class FileTextRepository {
  constructor(private readonly db: Database) {}

  /** stores (or replaces) a file's text; callers lock the file row in `tx` first */
  async save(fileId: string, text: FileText, tx: Queryable = this.db): Promise<void> {
    await tx.query(
      `INSERT INTO file_texts (file_id, segments, chars, tokens, pages)
       VALUES ($1, $2::jsonb, $3, $4, $5)
       ON CONFLICT (file_id) DO UPDATE
         SET segments = excluded.segments, chars = excluded.chars, tokens = excluded.tokens,
             pages = excluded.pages, created_at = now()`,
      [fileId, JSON.stringify(text.segments), text.chars, text.tokens, text.pages],
    );
  }

  /**
   * Segments of the ready files among `fileIds` that the principal may read,
   * by file id; files that are hidden, not ready or without text are absent.
   */
  async visibleSegments(
    principal: Principal,
    fileIds: string[],
  ): Promise<Map<string, TextSegment[]>> {
    if (fileIds.length === 0) return new Map();
    const r = await this.db.query<{ file_id: string; segments: TextSegment[] | string }>(
      `SELECT t.file_id, t.segments FROM file_texts t JOIN files f ON f.id = t.file_id
        WHERE t.file_id = ANY($3::text[]) AND f.status = 'ready' AND ${visibleFilePredicate('f', 1, 2)}`,
      [...visibilityParams(principal), fileIds],
    );
    return new Map(r.rows.map((row) => [row.file_id, parseJson(row.segments) ?? []]));
  }
}
