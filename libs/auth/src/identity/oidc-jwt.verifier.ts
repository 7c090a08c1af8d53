import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import {
  InvalidTokenError,
  userIdFrom,
  type InvalidTokenReason,
  type JwtVerifier,
  type VerifiedToken,
} from './jwt-verifier.port';

/** Asymmetric algorithms only: an HMAC alg would let a public key act as a shared secret. */
export const DEFAULT_JWT_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

export interface OidcJwtVerifierOptions {
  /** OIDC_ISSUER: exact `iss` value */
  issuer: string;
  /** OIDC_AUDIENCE: accepted `aud` value(s) */
  audience: string | string[];
  /** JWKS location; default: `jwks_uri` from the issuer's discovery document */
  jwksUri?: string;
  /** claim holding the user id (default `sub`) */
  userIdClaim?: string;
  /** subset of DEFAULT_JWT_ALGORITHMS to accept */
  algorithms?: string[];
  /** allowed clock skew for exp/nbf/iat (default 30 s) */
  clockToleranceSeconds?: number;
  /** JWKS / discovery HTTP timeout (default 5 s) */
  fetchTimeoutMs?: number;
  /**
   * minimum ms between JWKS refetches triggered by unknown `kid`s (default
   * 30 s), so a flood of forged kids cannot hammer the provider
   */
  jwksCooldownMs?: number;
}

/**
 * Any OpenID Connect provider's access tokens, via jose. Checks signature
 * against the provider's JWKS (refetched when an unknown `kid` appears),
 * issuer, audience, required `exp`, `nbf`, the algorithm allowlist, and refuses
 * ID tokens (`token_use: id`, as Cognito and some others mark them).
 */
export class OidcJwtVerifier implements JwtVerifier {
  readonly kind = 'oidc' as const;
  readonly issuers: readonly string[];
  private readonly userIdClaim: string;
  private readonly algorithms: string[];
  private readonly clockTolerance: number;
  private readonly fetchTimeoutMs: number;
  private keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(private readonly opts: OidcJwtVerifierOptions) {
    this.issuers = [opts.issuer];
    this.userIdClaim = opts.userIdClaim ?? 'sub';
    this.algorithms = opts.algorithms ?? [...DEFAULT_JWT_ALGORITHMS];
    const unsafe = this.algorithms.filter((a) => !DEFAULT_JWT_ALGORITHMS.includes(a));
    if (unsafe.length > 0) throw new Error(`JWT algorithms not allowed: ${unsafe.join(', ')}`);
    this.clockTolerance = opts.clockToleranceSeconds ?? 30;
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? 5_000;
  }

  async verify(token: string): Promise<VerifiedToken> {
    const keys = await this.keySet();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        algorithms: this.algorithms,
        clockTolerance: this.clockTolerance,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      throw new InvalidTokenError(reasonOf(err), { cause: err });
    }
    if (payload.token_use === 'id') throw new InvalidTokenError('wrong_token_use');
    return {
      userId: userIdFrom(payload, this.userIdClaim),
      issuer: this.opts.issuer,
      claims: payload,
    };
  }

  private keySet(): Promise<JWTVerifyGetKey> {
    this.keys ??= this.resolveJwksUri().then(
      (uri) =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: this.fetchTimeoutMs,
          cooldownDuration: this.opts.jwksCooldownMs ?? 30_000,
        }),
      (err: unknown) => {
        // forget the failure so the next request retries discovery
        this.keys = undefined;
        throw new InvalidTokenError('jwks_unavailable', { cause: err });
      },
    );
    return this.keys;
  }

  private async resolveJwksUri(): Promise<string> {
    if (this.opts.jwksUri) return this.opts.jwksUri;
    const url = `${this.opts.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
    if (!res.ok) throw new Error(`OIDC discovery ${url} answered ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== this.opts.issuer)
      throw new Error(`OIDC discovery issuer mismatch at ${url}`);
    if (typeof doc.jwks_uri !== 'string')
      throw new Error(`OIDC discovery at ${url} has no jwks_uri`);
    return doc.jwks_uri;
  }
}

function reasonOf(err: unknown): InvalidTokenReason {
  if (err instanceof InvalidTokenError) return err.reason;
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return 'missing_claim';
    switch (err.claim) {
      case 'nbf':
        return 'not_yet_valid';
      case 'iss':
        return 'wrong_issuer';
      case 'aud':
        return 'wrong_audience';
      default:
        return 'invalid_claim';
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return 'algorithm_not_allowed';
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return 'unknown_key';
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid)
    return 'jwks_unavailable';
  if (err instanceof errors.JOSEError) return 'malformed';
  // network failures while fetching the JWKS surface as plain errors
  return 'jwks_unavailable';
}
