import { randomUUID } from 'node:crypto';
import { AppError } from '@switchboard/common';

// `ab/<uuid>`: a two-hex-digit shard keeps directories small on the fs adapter.
const KEY_RE = /^[0-9a-f]{2}\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function generateBlobKey(): string {
  const id = randomUUID();
  return `${id.slice(0, 2)}/${id}`;
}

/** Refuses anything the store did not generate (so no `..`, no absolute paths). */
export function assertBlobKey(key: string): string {
  if (!KEY_RE.test(key)) throw new AppError('not_found');
  return key;
}
