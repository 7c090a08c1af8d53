import type { Principal } from '@switchboard/auth';
import type { Database, Queryable } from '@switchboard/storage';
import { visibilityParams, visibleFilePredicate } from './file-visibility';
import type { FileRow, FileStatus } from './files.types';

export interface NewFileRow {
  id: string;
  ownerUserId: string;
  name: string;
  mime: string;
  size: number;
  sha256: string;
  blobKey: string;
  status: FileStatus;
  tags: string[];
}

export interface FileListFilter {
  tag: string | null;
  status: FileStatus | null;
  limit: number;
  offset: number;
}

/**
 * The `files` table (created by the datasources migrations). Every read for a
 * principal embeds the visibility predicate; rules (ownership, limits, types)
 * live in `FilesService`, the only way other modules reach this table.
 */
export class FileRepository {
  constructor(private readonly db: Database) {}

  async insert(file: NewFileRow, tx: Queryable = this.db): Promise<FileRow> {
    const r = await tx.query<FileRow>(
      `INSERT INTO files (id, owner_user_id, name, mime, size, sha256, blob_key, status, tags)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[]) RETURNING *`,
      [
        file.id,
        file.ownerUserId,
        file.name,
        file.mime,
        file.size,
        file.sha256,
        file.blobKey,
        file.status,
        file.tags,
      ],
    );
    return r.rows[0];
  }

  /** visible files, newest first */
  async listVisible(principal: Principal, filter: FileListFilter): Promise<FileRow[]> {
    const r = await this.db.query<FileRow>(
      `SELECT f.* FROM files f
        WHERE ${visibleFilePredicate('f', 1, 2)}
          AND ($3::text IS NULL OR $3 = ANY(f.tags))
          AND ($4::text IS NULL OR f.status = $4)
        ORDER BY f.created_at DESC, f.id
        LIMIT $5 OFFSET $6`,
      [...visibilityParams(principal), filter.tag, filter.status, filter.limit, filter.offset],
    );
    return r.rows;
  }

  async findVisible(principal: Principal, id: string): Promise<FileRow | null> {
    const r = await this.db.query<FileRow>(
      `SELECT f.* FROM files f WHERE f.id = $3 AND ${visibleFilePredicate('f', 1, 2)}`,
      [...visibilityParams(principal), id],
    );
    return r.rows[0] ?? null;
  }

  async findVisibleMany(
    principal: Principal,
    ids: string[],
    tx: Queryable = this.db,
  ): Promise<FileRow[]> {
    const r = await tx.query<FileRow>(
      `SELECT f.* FROM files f WHERE f.id = ANY($3::text[]) AND ${visibleFilePredicate('f', 1, 2)}`,
      [...visibilityParams(principal), ids],
    );
    return r.rows;
  }

  /** visible files carrying any of `tags`, newest first */
  async findVisibleByTags(principal: Principal, tags: string[]): Promise<FileRow[]> {
    const r = await this.db.query<FileRow>(
      `SELECT f.* FROM files f WHERE f.tags && $3::text[] AND ${visibleFilePredicate('f', 1, 2)}
        ORDER BY f.created_at DESC, f.id`,
      [...visibilityParams(principal), tags],
    );
    return r.rows;
  }

  /** tags on the visible files, with how many files carry each */
  async visibleTagCounts(principal: Principal): Promise<Array<{ tag: string; files: number }>> {
    const r = await this.db.query<{ tag: string; files: string | number }>(
      `SELECT t AS tag, count(*) AS files FROM files f, unnest(f.tags) AS t
        WHERE ${visibleFilePredicate('f', 1, 2)} GROUP BY t ORDER BY t`,
      visibilityParams(principal),
    );
    return r.rows.map((row) => ({ tag: row.tag, files: Number(row.files) }));
  }

  /** deletes the row; its text, chunks and vectors go with it (cascade) */
  async delete(id: string): Promise<void> {
    await this.db.query('DELETE FROM files WHERE id = $1', [id]);
  }

  async setTags(id: string, tags: string[]): Promise<FileRow> {
    const r = await this.db.query<FileRow>(
      'UPDATE files SET tags = $2::text[], updated_at = now() WHERE id = $1 RETURNING *',
      [id, tags],
    );
    return r.rows[0];
  }

  async setSharedAccounts(id: string, accountIds: string[]): Promise<FileRow> {
    const r = await this.db.query<FileRow>(
      'UPDATE files SET shared_account_ids = $2::text[], updated_at = now() WHERE id = $1 RETURNING *',
      [id, accountIds],
    );
    return r.rows[0];
  }

  async find(id: string, tx: Queryable = this.db): Promise<FileRow | null> {
    const r = await tx.query<FileRow>('SELECT * FROM files WHERE id = $1', [id]);
    return r.rows[0] ?? null;
  }

  /**
   * Locks the row until `tx` ends: a concurrent delete either happened before
   * (false) or waits. Ingestion writes a file's results under this lock.
   */
  async lock(id: string, tx: Queryable): Promise<boolean> {
    const r = await tx.query('SELECT 1 FROM files WHERE id = $1 FOR UPDATE', [id]);
    return r.rowCount > 0;
  }

  async setStatus(
    id: string,
    status: FileStatus,
    error: string | null,
    tx: Queryable = this.db,
  ): Promise<void> {
    await tx.query('UPDATE files SET status = $2, error = $3, updated_at = now() WHERE id = $1', [
      id,
      status,
      error,
    ]);
  }
}
