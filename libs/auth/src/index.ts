export { hasScope } from './principal';
export type { Principal, PrincipalLimits, Scope } from './principal';
export { BootstrapAdminKey } from './bootstrap-admin-key';
export { Authenticator } from './authenticator';
export type { CredentialVerifier } from './authenticator';
export {
  AccountService,
  ApiKeyCredentialVerifier,
  ApiKeyService,
  JwtCredentialVerifier,
  IdentityModule,
  JwtVerifierSet,
  MAX_MINTING_ANCESTORS,
  SqlAccountRepository,
  SqlApiKeyRepository,
  accountIdSchema,
  createJwtVerifiers,
  identityMigrations,
  limitsSchema,
  loadOrCreateApiKeySecret,
  scopesSchema,
} from './identity';
export type { AccountRecord, ApiKeyRecord } from './identity';
