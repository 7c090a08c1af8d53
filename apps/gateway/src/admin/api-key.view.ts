import type { ApiKeyRecord } from '@switchboard/auth';

export type ApiKeyStatus = 'active' | 'rotating' | 'expired' | 'revoked';

/** The state `ApiKeyService.verify` would find the key in at `now`. */
export function apiKeyStatus(k: ApiKeyRecord, now = Date.now()): ApiKeyStatus {
  if (k.revokedAt && k.revokedAt.getTime() <= now) return 'revoked';
  if (k.graceUntil && k.graceUntil.getTime() <= now) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= now) return 'expired';
  return k.graceUntil ? 'rotating' : 'active';
}

/**
 * What the API shows of a key: named fields only (the public prefix, never the
 * secret or its hash, whatever the record grows to hold) plus its status.
 */
export function apiKeyView(k: ApiKeyRecord, now = Date.now()) {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    ownerUserId: k.ownerUserId,
    accountId: k.accountId,
    scopes: k.scopes,
    limits: k.limits,
    status: apiKeyStatus(k, now),
    expiresAt: k.expiresAt,
    revokedAt: k.revokedAt,
    rotatedFrom: k.rotatedFrom,
    parentKeyId: k.parentKeyId,
    graceUntil: k.graceUntil,
    lastUsedAt: k.lastUsedAt,
    createdAt: k.createdAt,
  };
}
