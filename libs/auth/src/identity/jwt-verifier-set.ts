import { decodeJwt } from 'jose';
import { InvalidTokenError, type JwtVerifier, type VerifiedToken } from './jwt-verifier.port';

/** Looks like a compact JWS: three base64url segments. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * All configured JWT verifiers behind one call: the (unverified) `iss` picks
 * the verifier, which then checks everything including `iss` itself.
 */
export class JwtVerifierSet {
  private readonly byIssuer = new Map<string, JwtVerifier>();

  constructor(readonly verifiers: readonly JwtVerifier[]) {
    for (const v of verifiers) for (const iss of v.issuers) this.byIssuer.set(iss, v);
  }

  get enabled(): boolean {
    return this.verifiers.length > 0;
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (!looksLikeJwt(token)) throw new InvalidTokenError('malformed');
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw new InvalidTokenError('malformed', { cause: err });
    }
    const verifier = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!verifier) throw new InvalidTokenError('unknown_issuer');
    return verifier.verify(token);
  }
}
