/** A verified access token. */
export interface VerifiedToken {
  /** value of the configured user-id claim (default `sub`) */
  userId: string;
  issuer: string;
  claims: Readonly<Record<string, unknown>>;
}

/** Verifies bearer JWTs of one identity provider. */
export interface JwtVerifier {
  readonly kind: 'oidc' | 'cognito';
  /** `iss` values this verifier accepts; used to route a token to its verifier */
  readonly issuers: readonly string[];
  /** resolves with the token's identity or throws InvalidTokenError */
  verify(token: string): Promise<VerifiedToken>;
}

export const JWT_VERIFIERS = Symbol('JWT_VERIFIERS');

/**
 * Why a token was refused. For logs and metrics only: clients always get the
 * same generic 401 so the reason cannot be used as an oracle.
 */
export type InvalidTokenReason =
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'unknown_issuer'
  | 'wrong_audience'
  | 'wrong_token_use'
  | 'algorithm_not_allowed'
  | 'bad_signature'
  | 'unknown_key'
  | 'missing_claim'
  | 'invalid_claim'
  | 'jwks_unavailable';

export class InvalidTokenError extends Error {
  constructor(
    readonly reason: InvalidTokenReason,
    options?: { cause?: unknown },
  ) {
    super(`invalid token: ${reason}`, options);
    this.name = 'InvalidTokenError';
  }
}

/** reads a user id claim; only non-empty strings qualify */
export function userIdFrom(claims: Record<string, unknown>, claim: string): string {
  const v = claims[claim];
  if (typeof v !== 'string' || v.length === 0) throw new InvalidTokenError('missing_claim');
  return v;
}
