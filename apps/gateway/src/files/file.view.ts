import type { ExternalSource, FileRecord, Job } from '@switchboard/datasources';

/**
 * a file as its readers see it: metadata, ingestion status (`stored` = kept for
 * download only, never ingested) and where to download it; never the storage key
 */
export function fileView(f: FileRecord) {
  return {
    id: f.id,
    name: f.name,
    mime: f.mime,
    size: f.size,
    sha256: f.sha256,
    status: f.status,
    error: f.error,
    tags: f.tags,
    ownerUserId: f.ownerUserId,
    owned: f.owned,
    sharedAccountIds: f.sharedAccountIds,
    contentUrl: `/files/${encodeURIComponent(f.id)}/content`,
    createdAt: f.createdAt.toISOString(),
    updatedAt: f.updatedAt.toISOString(),
  };
}

export function jobView(j: Job) {
  return {
    id: j.id,
    kind: j.kind,
    payload: j.payload,
    status: j.status,
    attempts: j.attempts,
    maxAttempts: j.maxAttempts,
    lastError: j.lastError,
    runAt: j.runAt.toISOString(),
    deadAt: j.deadAt?.toISOString() ?? null,
    createdAt: j.createdAt.toISOString(),
  };
}

/** header values are stored as secret references, so they are safe to show */
export function sourceView(s: ExternalSource) {
  return {
    id: s.id,
    name: s.name,
    urlTemplate: s.urlTemplate,
    method: s.method,
    headers: s.headers,
    bodyTemplate: s.bodyTemplate,
    enabled: s.enabled,
    createdBy: s.createdBy,
    createdAt: s.createdAt.toISOString(),
  };
}
