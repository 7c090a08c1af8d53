import { Logger } from '@nestjs/common';
import { AppError } from '@switchboard/common';
import type { CredentialVerifier } from '../authenticator';
import type { Principal, Scope } from '../principal';
import type { ApiKeyService } from './api-key.service';
import type { AccountRecord } from './identity.types';
import { InvalidTokenError, type VerifiedToken } from './jwt-verifier.port';
import { looksLikeJwt } from './jwt-verifier-set';

/**
 * API keys as a CredentialVerifier for the Authenticator. Any `sb_` token is
 * treated as an API key, so a mangled key gets `invalid_api_key` rather than
 * a generic 401.
 */
export class ApiKeyCredentialVerifier implements CredentialVerifier {
  constructor(private readonly keys: Pick<ApiKeyService, 'verify'>) {}

  async verify(token: string): Promise<Principal | undefined> {
    if (!token.startsWith('sb_')) return undefined;
    const key = await this.keys.verify(token);
    return {
      kind: 'api-key',
      userId: key.ownerUserId,
      accountIds: [key.accountId],
      defaultAccountId: key.accountId,
      keyId: key.id,
      scopes: [...key.scopes],
      limits: { ...(key.limits ?? {}) },
    };
  }
}

export interface JwtCredentialVerifierOptions {
  /** scopes granted to a JWT user (default chat, embeddings, files: no admin) */
  scopesFor?: (token: VerifiedToken) => Scope[];
  logger?: Pick<Logger, 'debug'>;
}

/**
 * Cognito/OIDC access tokens as a CredentialVerifier: the user's accounts come
 * from AccountService (oldest membership is the default account). Clients get
 * a generic 401 whatever the reason; the reason goes to the debug log. An
 * unreachable identity provider is a 503, not the caller's fault.
 */
export class JwtCredentialVerifier implements CredentialVerifier {
  private readonly scopesFor: (token: VerifiedToken) => Scope[];
  private readonly logger: Pick<Logger, 'debug'>;

  constructor(
    private readonly jwts: {
      readonly enabled: boolean;
      verify(token: string): Promise<VerifiedToken>;
    },
    private readonly accounts: { accountsOf(userId: string): Promise<AccountRecord[]> },
    opts: JwtCredentialVerifierOptions = {},
  ) {
    this.scopesFor = opts.scopesFor ?? (() => ['chat', 'embeddings', 'files']);
    this.logger = opts.logger ?? new Logger('JwtAuth');
  }

  async verify(token: string): Promise<Principal | undefined> {
    if (!this.jwts.enabled || !looksLikeJwt(token)) return undefined;
    let verified: VerifiedToken;
    try {
      verified = await this.jwts.verify(token);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      this.logger.debug(`JWT refused: ${err.reason}`);
      if (err.reason === 'jwks_unavailable') throw new AppError('service_unavailable');
      throw new AppError('unauthorized');
    }
    const accounts = await this.accounts.accountsOf(verified.userId);
    return {
      kind: 'user',
      userId: verified.userId,
      accountIds: accounts.map((a) => a.id),
      defaultAccountId: accounts[0]?.id,
      scopes: this.scopesFor(verified),
      limits: {},
    };
  }
}
