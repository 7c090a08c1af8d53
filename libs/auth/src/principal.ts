export type Scope = 'chat' | 'embeddings' | 'files' | 'admin';

export const ALL_SCOPES: readonly Scope[] = ['chat', 'embeddings', 'files', 'admin'];

/** Per-principal limit overrides; undefined = the configured default. */
export interface PrincipalLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  concurrentStreams?: number;
}

/** Who is calling, resolved once by the guard and carried through the request. */
export interface Principal {
  kind: 'bootstrap-admin' | 'api-key' | 'user';
  /** stable user id (JWT subject claim, or the key's owner) */
  userId: string;
  /** accounts (cost centres) the caller belongs to */
  accountIds: string[];
  /** the account charged when the request names none */
  defaultAccountId?: string;
  /** set for API keys */
  keyId?: string;
  scopes: Scope[];
  limits: PrincipalLimits;
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.includes(scope) || p.scopes.includes('admin');
}
