import { randomUUID } from 'node:crypto';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller-supplied id only if it is short and safe to log and echo. */
export function normaliseRequestId(candidate: unknown): string | undefined {
  return typeof candidate === 'string' && REQUEST_ID_RE.test(candidate) ? candidate : undefined;
}

export function newRequestId(): string {
  return randomUUID();
}
