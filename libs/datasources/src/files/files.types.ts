import type { FileMime } from './content-sniffer';

/**
 * `queued -> processing -> ready | failed` for documents, which are ingested;
 * `stored` for files kept for download only (images), which never are. Only
 * `ready` files have text, chunks and vectors.
 */
export const FILE_STATUSES = ['queued', 'processing', 'ready', 'failed', 'stored'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

/** A file as its readers may see it (no storage key). */
export interface FileRecord {
  id: string;
  ownerUserId: string;
  /** true when the caller owns it (only owners tag, share and delete) */
  owned: boolean;
  name: string;
  mime: FileMime;
  size: number;
  sha256: string;
  status: FileStatus;
  /** reason of a `failed` status */
  error: string | null;
  tags: string[];
  sharedAccountIds: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** internal view, with the blob key (ingestion, deletion) */
export interface StoredFile extends Omit<FileRecord, 'owned'> {
  blobKey: string;
}

export interface FileRow {
  id: string;
  owner_user_id: string;
  name: string;
  mime: string;
  size: string | number;
  sha256: string;
  blob_key: string;
  status: FileStatus;
  error: string | null;
  tags: string[];
  shared_account_ids: string[];
  created_at: Date | string;
  updated_at: Date | string;
}

export function toStoredFile(r: FileRow): StoredFile {
  return {
    id: r.id,
    ownerUserId: r.owner_user_id,
    name: r.name,
    mime: r.mime as FileMime,
    size: Number(r.size),
    sha256: r.sha256,
    blobKey: r.blob_key,
    status: r.status,
    error: r.error,
    tags: r.tags ?? [],
    sharedAccountIds: r.shared_account_ids ?? [],
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function toFileRecord(r: FileRow, userId: string): FileRecord {
  const { blobKey: _key, ...rest } = toStoredFile(r);
  void _key;
  return { ...rest, owned: r.owner_user_id === userId };
}

export const INGEST_FILE_JOB = 'ingest_file';
export interface IngestFilePayload extends Record<string, unknown> {
  fileId: string;
}
