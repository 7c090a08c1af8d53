import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Principal } from '@switchboard/auth';
import { AppError, isAppError } from '@switchboard/common';
import type { Database, Queryable } from '@switchboard/storage';
import type { BlobStore } from '../blob/blob-store.port';
import type { JobQueue } from '../jobs/job-queue';
import { type FileMime, SNIFF_BYTES, isImageMime, sniffContentType } from './content-sniffer';
import { type FileText, FileTextRepository } from './file-text.repository';
import { FileRepository } from './file.repository';
import {
  type FileRecord,
  type FileRow,
  type FileStatus,
  INGEST_FILE_JOB,
  type StoredFile,
  toFileRecord,
  toStoredFile,
} from './files.types';
import { peekStream } from './peek-stream';
import type { TextSegment } from '../extraction/extraction.types';

export interface FilesServiceOptions {
  /** upload size limit (default 25 MiB) */
  maxUploadBytes?: number;
  /**
   * whether `userId` belongs to `accountId` (sharing is limited to the owner's
   * accounts); default: the account is among the caller's (= owner's) `accountIds`
   */
  isMember?: (userId: string, accountId: string) => boolean | Promise<boolean>;
  /** attempts of the ingestion job before it is dead-lettered (default 5) */
  ingestMaxAttempts?: number;
  /** called after a file was queued (e.g. `worker.wake()`) */
  onQueued?(fileId: string): void;
}

export interface UploadInput {
  /** the client's file name; stored for display only, never used as a path */
  filename?: string;
  /** the client's Content-Type; only a tie-breaker between text formats */
  declaredType?: string;
}

/** a file produced on a user's behalf (e.g. by a hosted code interpreter) */
export interface GeneratedFileInput {
  /** display name; sanitised like an upload's, never used as a path */
  name: string;
  data: Uint8Array;
  /** validated like `setTags` */
  tags?: string[];
  /** the producer's idea of the type; only a tie-breaker between text formats */
  declaredType?: string;
}

/** a visible file's bytes; the caller consumes or destroys `body` */
export interface FileContent {
  file: FileRecord;
  body: Readable;
}

const MAX_TAGS = 50;
const TAG_RE = /^[\p{L}\p{N}][\p{L}\p{N} _.-]{0,63}$/u;

/** display name from a client file name: last path component, no control characters */
export function sanitiseFilename(name: string | undefined): string {
  const last = (name ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const base = last.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base.slice(0, 255) || 'untitled';
}

/**
 * Files of users: upload (type sniffed, size capped while streaming), files
 * produced on a user's behalf, list, get, content, delete, tags and sharing.
 * Every read goes through the one visibility predicate; a file the caller may
 * not see is `not_found`, whether or not it exists. Only the owner tags,
 * shares and deletes (`forbidden` for a reader of a shared file, who can see
 * it anyway).
 */
export class FilesService {
  readonly maxUploadBytes: number;
  private readonly texts: FileTextRepository;
  private readonly rows: FileRepository;

  constructor(
    private readonly db: Database,
    private readonly blobs: BlobStore,
    private readonly jobs: JobQueue,
    private readonly options: FilesServiceOptions,
  ) {
    this.maxUploadBytes = options.maxUploadBytes ?? 25 * 1024 * 1024;
    this.texts = new FileTextRepository(db);
    this.rows = new FileRepository(db);
  }

  /**
   * Streams an upload into the blob store and queues its ingestion.
   * @throws AppError unsupported_media_type (nothing is stored), payload_too_large
   *   (the partial blob is deleted)
   */
  async upload(
    principal: Principal,
    body: Readable | AsyncIterable<Uint8Array>,
    input: UploadInput = {},
  ): Promise<FileRecord> {
    const name = sanitiseFilename(input.filename);
    const { head, complete, stream } = await peekStream(body, SNIFF_BYTES);
    if (head.length > this.maxUploadBytes) {
      stream.destroy();
      throw new AppError(
        'payload_too_large',
        `The file exceeds the limit of ${this.maxUploadBytes} bytes.`,
      );
    }
    const mime = sniffContentType(head, {
      filename: name,
      declaredType: input.declaredType,
      complete,
    });
    if (!mime) {
      stream.destroy();
      throw new AppError(
        'unsupported_media_type',
        'The file type is not supported. Upload PDF, DOCX, XLSX, HTML, Markdown, CSV, TSV, JSON or plain text.',
      );
    }
    return this.store(principal, stream, { name, mime, tags: [], ingest: true });
  }

  /**
   * Stores a file produced on the user's behalf (owner = the principal): typed by
   * content like an upload, but images (PNG, JPEG, GIF, WebP) are accepted too.
   * Documents are queued for ingestion like uploads; images are `stored`: kept
   * for download, never ingested.
   * @throws AppError invalid_request (tags), payload_too_large,
   *   unsupported_media_type (nothing is stored either way)
   */
  async saveGenerated(principal: Principal, input: GeneratedFileInput): Promise<FileRecord> {
    const name = sanitiseFilename(input.name);
    const tags = normaliseTags(input.tags ?? []);
    const data = Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength);
    if (data.length > this.maxUploadBytes)
      throw new AppError(
        'payload_too_large',
        `The file exceeds the limit of ${this.maxUploadBytes} bytes.`,
      );
    const mime = sniffContentType(data.subarray(0, SNIFF_BYTES), {
      filename: name,
      declaredType: input.declaredType,
      complete: data.length <= SNIFF_BYTES,
      allowImages: true,
    });
    if (!mime)
      throw new AppError(
        'unsupported_media_type',
        'The file type is not supported. Files can be PDF, DOCX, XLSX, HTML, Markdown, CSV, TSV, JSON, plain text, PNG, JPEG, GIF or WebP.',
      );
    return this.store(principal, Readable.from([data]), {
      name,
      mime,
      tags,
      ingest: !isImageMime(mime),
    });
  }

  /**
   * The bytes of a file the caller may see, streamed from the blob store.
   * @throws AppError not_found (not visible, or its blob is gone from storage)
   */
  async openContent(principal: Principal, id: string): Promise<FileContent> {
    const row = await this.visibleRow(principal, id);
    try {
      const body = await this.blobs.get(row.blob_key);
      return { file: toFileRecord(row, principal.userId), body };
    } catch (err) {
      if (isAppError(err) && err.code === 'not_found')
        throw new AppError('not_found', 'File not found.', { cause: err });
      throw err;
    }
  }

  /**
   * Writes the blob, then the row (and its ingestion job) in one transaction;
   * the blob is deleted again when the row cannot be written.
   */
  private async store(
    principal: Principal,
    body: Readable,
    file: { name: string; mime: FileMime; tags: string[]; ingest: boolean },
  ): Promise<FileRecord> {
    const blob = await this.blobs.put(body, {
      contentType: file.mime,
      maxBytes: this.maxUploadBytes,
    });
    const id = randomUUID();
    const status: FileStatus = file.ingest ? 'queued' : 'stored';
    try {
      const row = await this.db.transaction(async (tx) => {
        const inserted = await this.rows.insert(
          {
            id,
            ownerUserId: principal.userId,
            name: file.name,
            mime: file.mime,
            size: blob.size,
            sha256: blob.sha256,
            blobKey: blob.key,
            status,
            tags: file.tags,
          },
          tx,
        );
        if (file.ingest)
          await this.jobs.enqueue(
            INGEST_FILE_JOB,
            { fileId: id },
            { maxAttempts: this.options.ingestMaxAttempts ?? 5 },
            tx,
          );
        return inserted;
      });
      if (file.ingest) this.options.onQueued?.(id);
      return toFileRecord(row, principal.userId);
    } catch (err) {
      await this.blobs.delete(blob.key).catch(() => undefined);
      throw err;
    }
  }

  /** visible files, newest first; `limit` 1..1000 (default 100), `offset` for paging */
  async list(
    principal: Principal,
    filter: { tag?: string; status?: FileStatus; limit?: number; offset?: number } = {},
  ): Promise<FileRecord[]> {
    const rows = await this.rows.listVisible(principal, {
      tag: filter.tag ?? null,
      status: filter.status ?? null,
      limit: Math.min(Math.max(1, Math.floor(filter.limit ?? 100)), 1000),
      offset: Math.max(0, Math.floor(filter.offset ?? 0)),
    });
    return rows.map((row) => toFileRecord(row, principal.userId));
  }

  /** @throws AppError not_found */
  async get(principal: Principal, id: string): Promise<FileRecord> {
    return toFileRecord(await this.visibleRow(principal, id), principal.userId);
  }

  /** the visible files among `ids` (unknown and hidden ids are simply absent) */
  async getMany(
    principal: Principal,
    ids: string[],
    tx: Queryable = this.db,
  ): Promise<FileRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows.findVisibleMany(principal, ids, tx);
    return rows.map((row) => toFileRecord(row, principal.userId));
  }

  /** visible files carrying any of `tags` */
  async listByTags(principal: Principal, tags: string[]): Promise<FileRecord[]> {
    if (tags.length === 0) return [];
    const rows = await this.rows.findVisibleByTags(principal, tags);
    return rows.map((row) => toFileRecord(row, principal.userId));
  }

  /**
   * Deletes the file, its extracted text, chunks and vectors (cascade) and its blob.
   * @throws AppError not_found, forbidden (a shared reader)
   */
  async delete(principal: Principal, id: string): Promise<void> {
    const row = await this.ownedRow(principal, id);
    await this.rows.delete(row.id);
    await this.blobs.delete(row.blob_key);
  }

  /** @throws AppError not_found, forbidden, invalid_request */
  async setTags(principal: Principal, id: string, tags: string[]): Promise<FileRecord> {
    const clean = normaliseTags(tags);
    await this.ownedRow(principal, id);
    return toFileRecord(await this.rows.setTags(id, clean), principal.userId);
  }

  /** tags on the files the caller can see, with how many files carry each */
  async listTags(principal: Principal): Promise<Array<{ tag: string; files: number }>> {
    return this.rows.visibleTagCounts(principal);
  }

  /**
   * Replaces the accounts a file is shared with (empty = private again).
   * @throws AppError not_found, forbidden (not the owner, or an account the owner is not in)
   */
  async share(principal: Principal, id: string, accountIds: string[]): Promise<FileRecord> {
    const row = await this.ownedRow(principal, id);
    const accounts = [...new Set(accountIds.map((a) => a.trim()).filter(Boolean))];
    if (accounts.length > 100)
      throw new AppError('invalid_request', 'A file can be shared with at most 100 accounts.');
    const isMember =
      this.options.isMember ??
      ((_user: string, account: string) => principal.accountIds.includes(account));
    for (const a of accounts) {
      if (!(await isMember(row.owner_user_id, a)))
        throw new AppError(
          'forbidden',
          'A file can only be shared with accounts its owner belongs to.',
        );
    }
    return toFileRecord(await this.rows.setSharedAccounts(id, accounts), principal.userId);
  }

  // ---- internal (ingestion), no principal ----

  async findStored(id: string, tx: Queryable = this.db): Promise<StoredFile | null> {
    const row = await this.rows.find(id, tx);
    return row ? toStoredFile(row) : null;
  }

  /**
   * Locks the file's row until `tx` ends; false when it is gone. Ingestion
   * writes its results under this lock, so a concurrent delete either happened
   * before or waits for them (and removes them with the file).
   */
  async lockForIngestion(id: string, tx: Queryable): Promise<boolean> {
    return this.rows.lock(id, tx);
  }

  async setStatus(
    id: string,
    status: FileStatus,
    error: string | null = null,
    tx: Queryable = this.db,
  ): Promise<void> {
    await this.rows.setStatus(id, status, error, tx);
  }

  /** stores a file's extracted text (ingestion, inside its transaction) */
  async saveText(id: string, text: FileText, tx: Queryable = this.db): Promise<void> {
    await this.texts.save(id, text, tx);
  }

  /** extracted text segments of the ready files among `ids` that the principal may read */
  async readableTexts(principal: Principal, ids: string[]): Promise<Map<string, TextSegment[]>> {
    return this.texts.visibleSegments(principal, ids);
  }

  private async visibleRow(principal: Principal, id: string): Promise<FileRow> {
    const row = await this.rows.findVisible(principal, id);
    if (!row) throw new AppError('not_found', 'File not found.');
    return row;
  }

  private async ownedRow(principal: Principal, id: string): Promise<FileRow> {
    const row = await this.visibleRow(principal, id);
    if (row.owner_user_id !== principal.userId)
      throw new AppError('forbidden', 'Only the owner of a file can change or delete it.');
    return row;
  }
}

export function normaliseTags(tags: unknown): string[] {
  if (!Array.isArray(tags))
    throw new AppError('invalid_request', 'tags must be an array of strings.', { param: 'tags' });
  const out = new Set<string>();
  for (const t of tags) {
    if (typeof t !== 'string' || !TAG_RE.test(t.trim()))
      throw new AppError(
        'invalid_request',
        'Each tag is 1-64 letters, digits, spaces, "_", "." or "-", starting with a letter or digit.',
        { param: 'tags' },
      );
    out.add(t.trim());
  }
  if (out.size > MAX_TAGS)
    throw new AppError('invalid_request', `At most ${MAX_TAGS} tags per file.`, { param: 'tags' });
  return [...out].sort();
}
