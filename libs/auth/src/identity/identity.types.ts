import { z } from 'zod';
import { ALL_SCOPES, type PrincipalLimits, type Scope } from '../principal';

export interface ApiKeyRecord {
  id: string;
  /** public part of the key (`sb_<prefix>_...`) */
  prefix: string;
  ownerUserId: string;
  accountId: string;
  scopes: Scope[];
  name: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** id of the key this one replaced */
  rotatedFrom: string | null;
  /** the key that minted this one through self-service; its limits and budgets bind this key too */
  parentKeyId: string | null;
  /** set on a rotated-out key: it works until then */
  graceUntil: Date | null;
  /** per-key overrides of the default limits */
  limits: PrincipalLimits | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

export interface CreateApiKeyInput {
  ownerUserId: string;
  accountId: string;
  scopes: Scope[];
  name: string;
  expiresAt?: Date | null;
  limits?: PrincipalLimits | null;
  /** the key the caller authenticated with when minting this one */
  parentKeyId?: string | null;
}

export interface AccountRecord {
  id: string;
  name: string;
  /** per-account overrides of the default limits */
  limits: PrincipalLimits | null;
  createdAt: Date;
}

export interface CreateAccountInput {
  /** chosen id (letters, digits, `-`, `_`, `.`); default a UUID */
  id?: string;
  name: string;
  limits?: PrincipalLimits | null;
}

const count = z.number().int().min(0).max(1_000_000_000);

export const limitsSchema = z
  .object({
    requestsPerMinute: count.optional(),
    tokensPerMinute: count.optional(),
    concurrentStreams: count.optional(),
  })
  .strict();

export const scopesSchema = z
  .array(z.enum(ALL_SCOPES as [Scope, ...Scope[]]))
  .min(1)
  .transform((s) => [...new Set(s)]);

export const accountIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/);
