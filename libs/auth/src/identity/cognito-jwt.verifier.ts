import { CognitoJwtVerifier } from 'aws-jwt-verify';
import { decodeJwt } from 'jose';
import {
  CognitoJwtInvalidClientIdError,
  CognitoJwtInvalidTokenUseError,
  FetchError,
  JwksValidationError,
  JwkValidationError,
  JwtExpiredError,
  JwtInvalidClaimError,
  JwtInvalidIssuerError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';
import type { JwksCache } from 'aws-jwt-verify/jwk';
import {
  InvalidTokenError,
  userIdFrom,
  type InvalidTokenReason,
  type JwtVerifier,
  type VerifiedToken,
} from './jwt-verifier.port';

export interface CognitoJwtVerifierOptions {
  /** COGNITO_USER_POOL_ID, e.g. `eu-west-1_AbCdEf123` */
  userPoolId: string;
  /** COGNITO_CLIENT_ID: app client(s) whose access tokens are accepted */
  clientId: string | string[];
  /** claim holding the user id (default `sub`) */
  userIdClaim?: string;
  /** allowed clock skew for exp/nbf (default 30 s) */
  graceSeconds?: number;
  /** JWKS cache override (tests point it at a local JWKS) */
  jwksCache?: JwksCache;
}

/**
 * Amazon Cognito access tokens via aws-jwt-verify: signature against the user
 * pool's JWKS, issuer (regional and global formats), `token_use: access`,
 * `client_id`, expiry. ID tokens are refused.
 */
export class CognitoJwtVerifierAdapter implements JwtVerifier {
  readonly kind = 'cognito' as const;
  readonly issuers: readonly string[];
  private readonly userIdClaim: string;
  private readonly verifier: { verify(jwt: string): Promise<Record<string, unknown>> };

  constructor(opts: CognitoJwtVerifierOptions) {
    const regional = CognitoJwtVerifier.parseUserPoolId(opts.userPoolId).issuer;
    const region = opts.userPoolId.split('_')[0];
    this.issuers = [
      regional,
      `https://issuer-cognito-idp.${region}.amazonaws.com/${opts.userPoolId}`,
    ];
    this.userIdClaim = opts.userIdClaim ?? 'sub';
    const verifier = CognitoJwtVerifier.create(
      {
        userPoolId: opts.userPoolId,
        tokenUse: 'access',
        clientId: opts.clientId,
        graceSeconds: opts.graceSeconds ?? 30,
      },
      opts.jwksCache ? { jwksCache: opts.jwksCache } : undefined,
    );
    this.verifier = {
      verify: async (jwt) => await verifier.verify(jwt),
    };
  }

  async verify(token: string): Promise<VerifiedToken> {
    // aws-jwt-verify reports a foreign issuer as a configuration error; name it here
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw new InvalidTokenError('malformed', { cause: err });
    }
    if (typeof iss !== 'string' || !this.issuers.includes(iss)) {
      throw new InvalidTokenError('wrong_issuer');
    }
    let payload: Record<string, unknown>;
    try {
      payload = await this.verifier.verify(token);
    } catch (err) {
      throw new InvalidTokenError(reasonOf(err), { cause: err });
    }
    const issuer = typeof payload.iss === 'string' ? payload.iss : this.issuers[0];
    return { userId: userIdFrom(payload, this.userIdClaim), issuer, claims: payload };
  }
}

function reasonOf(err: unknown): InvalidTokenReason {
  if (err instanceof JwtExpiredError) return 'expired';
  if (err instanceof JwtNotBeforeError) return 'not_yet_valid';
  if (err instanceof JwtInvalidIssuerError) return 'wrong_issuer';
  if (err instanceof CognitoJwtInvalidClientIdError) return 'wrong_audience';
  if (err instanceof CognitoJwtInvalidTokenUseError) return 'wrong_token_use';
  if (err instanceof JwtInvalidSignatureAlgorithmError) return 'algorithm_not_allowed';
  if (err instanceof JwtInvalidSignatureError) return 'bad_signature';
  if (err instanceof KidNotFoundInJwksError || err instanceof WaitPeriodNotYetEndedJwkError) {
    return 'unknown_key';
  }
  if (
    err instanceof FetchError ||
    err instanceof JwksValidationError ||
    err instanceof JwkValidationError
  ) {
    return 'jwks_unavailable';
  }
  if (err instanceof JwtInvalidClaimError) return 'invalid_claim';
  return 'malformed';
}
