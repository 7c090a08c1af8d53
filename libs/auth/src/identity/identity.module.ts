import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { DATABASE, type Database } from '@switchboard/storage';
import { Authenticator } from '../authenticator';
import type { BootstrapAdminKey } from '../bootstrap-admin-key';
import { SqlAccountRepository } from './account.repository';
import { AccountService } from './account.service';
import { SqlApiKeyRepository } from './api-key.repository';
import { ApiKeyService } from './api-key.service';
import { CognitoJwtVerifierAdapter } from './cognito-jwt.verifier';
import { ApiKeyCredentialVerifier, JwtCredentialVerifier } from './credential.verifiers';
import { JWT_VERIFIERS, type JwtVerifier } from './jwt-verifier.port';
import { JwtVerifierSet } from './jwt-verifier-set';
import { OidcJwtVerifier } from './oidc-jwt.verifier';

export const IDENTITY_OPTIONS = Symbol('IDENTITY_OPTIONS');

/** Plain values from the app config; a verifier exists only when its pair is set. */
export interface IdentityModuleOptions {
  /** OIDC_ISSUER + OIDC_AUDIENCE enable the OIDC verifier */
  oidcIssuer?: string;
  oidcAudience?: string | string[];
  /** default: discovered from the issuer */
  oidcJwksUri?: string;
  /** claim naming the user (default `sub`) */
  oidcUserIdClaim?: string;
  /** COGNITO_USER_POOL_ID + COGNITO_CLIENT_ID enable the Cognito verifier */
  cognitoUserPoolId?: string;
  cognitoClientId?: string | string[];
  cognitoUserIdClaim?: string;
  /** HMAC secret for API keys (same on every replica, >= 32 chars) */
  apiKeySecret: string;
  /** revocation staleness window across replicas (default 5 s) */
  apiKeyCacheTtlMs?: number;
  /** last-used write interval (default 30 s) */
  apiKeyLastUsedFlushMs?: number;
  /** membership staleness window across replicas (default 5 s) */
  membershipCacheTtlMs?: number;
  /** ADMIN_API_KEY or the key generated on first boot; with it the module provides `Authenticator` */
  bootstrapAdminKey?: BootstrapAdminKey;
}

export interface IdentityModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => IdentityModuleOptions | Promise<IdentityModuleOptions>;
}

const blank = (v: string | string[] | undefined) =>
  v === undefined || (Array.isArray(v) ? v.length === 0 : v.trim() === '');

/**
 * The JWT verifiers the options ask for. Half a pair is a configuration error
 * (naming the missing variable), not a silently disabled login.
 */
export function createJwtVerifiers(opts: IdentityModuleOptions): JwtVerifier[] {
  const out: JwtVerifier[] = [];
  if (!blank(opts.oidcIssuer) || !blank(opts.oidcAudience)) {
    if (blank(opts.oidcIssuer)) throw new Error('OIDC_AUDIENCE is set but OIDC_ISSUER is not');
    if (blank(opts.oidcAudience)) throw new Error('OIDC_ISSUER is set but OIDC_AUDIENCE is not');
    out.push(
      new OidcJwtVerifier({
        issuer: opts.oidcIssuer!,
        audience: opts.oidcAudience!,
        jwksUri: opts.oidcJwksUri,
        userIdClaim: opts.oidcUserIdClaim,
      }),
    );
  }
  if (!blank(opts.cognitoUserPoolId) || !blank(opts.cognitoClientId)) {
    if (blank(opts.cognitoUserPoolId))
      throw new Error('COGNITO_CLIENT_ID is set but COGNITO_USER_POOL_ID is not');
    if (blank(opts.cognitoClientId))
      throw new Error('COGNITO_USER_POOL_ID is set but COGNITO_CLIENT_ID is not');
    out.push(
      new CognitoJwtVerifierAdapter({
        userPoolId: opts.cognitoUserPoolId!,
        clientId: opts.cognitoClientId!,
        userIdClaim: opts.cognitoUserIdClaim,
      }),
    );
  }
  return out;
}

/**
 * Writes pending last-used times once the HTTP server has closed (the last
 * requests have touched their keys), before storage closes the database.
 */
@Injectable()
export class IdentityLifecycle implements OnApplicationShutdown {
  constructor(@Inject(ApiKeyService) private readonly apiKeys: ApiKeyService) {}

  async onApplicationShutdown(): Promise<void> {
    await this.apiKeys.close();
  }
}

const providers: Provider[] = [
  { provide: JWT_VERIFIERS, inject: [IDENTITY_OPTIONS], useFactory: createJwtVerifiers },
  {
    provide: JwtVerifierSet,
    inject: [JWT_VERIFIERS],
    useFactory: (v: JwtVerifier[]) => new JwtVerifierSet(v),
  },
  {
    provide: ApiKeyService,
    inject: [DATABASE, IDENTITY_OPTIONS],
    useFactory: (db: Database, o: IdentityModuleOptions) =>
      new ApiKeyService(new SqlApiKeyRepository(db), {
        secret: o.apiKeySecret,
        cacheTtlMs: o.apiKeyCacheTtlMs,
        lastUsedFlushMs: o.apiKeyLastUsedFlushMs,
      }),
  },
  {
    provide: AccountService,
    inject: [DATABASE, IDENTITY_OPTIONS],
    useFactory: (db: Database, o: IdentityModuleOptions) =>
      new AccountService(new SqlAccountRepository(db), {
        membershipCacheTtlMs: o.membershipCacheTtlMs,
      }),
  },
  {
    // tried in order: API keys, then JWTs
    provide: Authenticator,
    inject: [IDENTITY_OPTIONS, ApiKeyService, JwtVerifierSet, AccountService],
    useFactory: (
      o: IdentityModuleOptions,
      apiKeys: ApiKeyService,
      jwts: JwtVerifierSet,
      accounts: AccountService,
    ): Authenticator | null =>
      o.bootstrapAdminKey
        ? new Authenticator(o.bootstrapAdminKey, [
            new ApiKeyCredentialVerifier(apiKeys),
            new JwtCredentialVerifier(jwts, accounts),
          ])
        : null,
  },
  IdentityLifecycle,
];

const exported = [JWT_VERIFIERS, JwtVerifierSet, ApiKeyService, AccountService, Authenticator];

/**
 * JWT verification, API keys, accounts and (given the bootstrap admin key) the
 * request `Authenticator`. Needs DATABASE (the global StorageModule provides
 * it); the app adds `identityMigrations` to the storage migrations.
 */
@Module({})
export class IdentityModule {
  static forRoot(opts: IdentityModuleOptions): DynamicModule {
    return {
      module: IdentityModule,
      providers: [{ provide: IDENTITY_OPTIONS, useValue: opts }, ...providers],
      exports: exported,
    };
  }

  static forRootAsync(opts: IdentityModuleAsyncOptions): DynamicModule {
    return {
      module: IdentityModule,
      imports: opts.imports ?? [],
      providers: [
        { provide: IDENTITY_OPTIONS, inject: opts.inject ?? [], useFactory: opts.useFactory },
        ...providers,
      ],
      exports: exported,
    };
  }
}
