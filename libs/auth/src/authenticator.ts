import { AppError } from '@switchboard/common';
import { ALL_SCOPES, type Principal } from './principal';
import type { BootstrapAdminKey } from './bootstrap-admin-key';

/** Extracts the bearer token; undefined when the header is absent or malformed. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S{1,4096})\s*$/i.exec(header);
  return m?.[1];
}

/** A source of principals tried in order (API keys, JWTs...). */
export interface CredentialVerifier {
  /** undefined = not mine, try the next verifier; throws AppError = mine and invalid */
  verify(token: string): Promise<Principal | undefined>;
}

export const BOOTSTRAP_ADMIN_USER = 'bootstrap-admin';

/**
 * Turns an Authorization header into a Principal. The bootstrap admin key is
 * checked first; other verifiers plug in behind it.
 */
export class Authenticator {
  constructor(
    private readonly adminKey: BootstrapAdminKey,
    private readonly verifiers: CredentialVerifier[] = [],
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    if (!token) throw new AppError('unauthorized', 'Send "Authorization: Bearer <key or token>".');
    if (this.adminKey.matches(token)) {
      return {
        kind: 'bootstrap-admin',
        userId: BOOTSTRAP_ADMIN_USER,
        accountIds: [],
        scopes: [...ALL_SCOPES],
        limits: {},
      };
    }
    for (const v of this.verifiers) {
      const p = await v.verify(token);
      if (p) return p;
    }
    throw new AppError('unauthorized');
  }
}
