import { AppError } from '@switchboard/common';
import { Authenticator } from '../authenticator';
import { BootstrapAdminKey } from '../bootstrap-admin-key';
import { ApiKeyError } from './api-key.errors';
import { ApiKeyCredentialVerifier, JwtCredentialVerifier } from './credential.verifiers';
import type { ApiKeyRecord } from './identity.types';
import { InvalidTokenError, type VerifiedToken } from './jwt-verifier.port';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
const record: ApiKeyRecord = {
  id: 'key-1',
  prefix: 'AbCdEfGh',
  ownerUserId: 'alice',
  accountId: 'acme',
  scopes: ['chat'],
  name: 'k',
  expiresAt: null,
  revokedAt: null,
  rotatedFrom: null,
  parentKeyId: null,
  graceUntil: null,
  limits: { requestsPerMinute: 10 },
  lastUsedAt: null,
  createdAt: new Date(0),
};

const keys = {
  verify: (t: string) =>
    t === 'sb_AbCdEfGh_good'
      ? Promise.resolve(record)
      : Promise.reject(new ApiKeyError('api_key_revoked')),
};
const jwts = (result: VerifiedToken | InvalidTokenError) => ({
  enabled: true,
  verify: () => (result instanceof Error ? Promise.reject(result) : Promise.resolve(result)),
});
const accounts = {
  accountsOf: (u: string) =>
    Promise.resolve(
      u === 'bob'
        ? [
            { id: 'first', name: 'F', limits: null, createdAt: new Date(0) },
            { id: 'second', name: 'S', limits: null, createdAt: new Date(0) },
          ]
        : [],
    ),
};
const quiet = { debug: jest.fn() };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('ApiKeyCredentialVerifier', () => {
  it('maps a key to an api-key principal bound to its account', async () => {
    await expect(new ApiKeyCredentialVerifier(keys).verify('sb_AbCdEfGh_good')).resolves.toEqual({
      kind: 'api-key',
      userId: 'alice',
      accountIds: ['acme'],
      defaultAccountId: 'acme',
      keyId: 'key-1',
      scopes: ['chat'],
      limits: { requestsPerMinute: 10 },
    });
  });

  it('passes the distinct API key codes through and ignores non-keys', async () => {
    const v = new ApiKeyCredentialVerifier(keys);
    expect((await rejection(v.verify('sb_AbCdEfGh_bad'))).code).toBe('api_key_revoked');
    await expect(v.verify(JWT)).resolves.toBeUndefined();
  });
});

describe('JwtCredentialVerifier', () => {
  it('maps a token to a user principal with its accounts, oldest first as default', async () => {
    const v = new JwtCredentialVerifier(
      jwts({ userId: 'bob', issuer: 'i', claims: {} }),
      accounts,
      { logger: quiet },
    );
    await expect(v.verify(JWT)).resolves.toEqual({
      kind: 'user',
      userId: 'bob',
      accountIds: ['first', 'second'],
      defaultAccountId: 'first',
      scopes: ['chat', 'embeddings', 'files'],
      limits: {},
    });
  });

  it('answers a generic unauthorized whatever the reason, and 503 when the IdP is unreachable', async () => {
    const expired = new JwtCredentialVerifier(jwts(new InvalidTokenError('expired')), accounts, {
      logger: quiet,
    });
    const e = await rejection(expired.verify(JWT));
    expect(e.code).toBe('unauthorized');
    expect(e.message).not.toContain('expired');
    const down = new JwtCredentialVerifier(
      jwts(new InvalidTokenError('jwks_unavailable')),
      accounts,
      {
        logger: quiet,
      },
    );
    expect((await rejection(down.verify(JWT))).code).toBe('service_unavailable');
  });

  it('steps aside when no JWT verifier is configured or the token is not a JWT', async () => {
    const off = new JwtCredentialVerifier({ enabled: false, verify: jest.fn() }, accounts);
    await expect(off.verify(JWT)).resolves.toBeUndefined();
    const on = new JwtCredentialVerifier(
      jwts({ userId: 'bob', issuer: 'i', claims: {} }),
      accounts,
    );
    await expect(on.verify('sb_AbCdEfGh_good')).resolves.toBeUndefined();
  });
});

describe('Authenticator with the identity verifiers', () => {
  it('tries the bootstrap key, then API keys, then JWTs', async () => {
    const auth = new Authenticator(BootstrapAdminKey.fromPlaintext('sb_admin_root'), [
      new ApiKeyCredentialVerifier(keys),
      new JwtCredentialVerifier(jwts({ userId: 'bob', issuer: 'i', claims: {} }), accounts, {
        logger: quiet,
      }),
    ]);
    expect((await auth.authenticate('Bearer sb_admin_root')).kind).toBe('bootstrap-admin');
    expect((await auth.authenticate('Bearer sb_AbCdEfGh_good')).kind).toBe('api-key');
    expect((await auth.authenticate(`Bearer ${JWT}`)).kind).toBe('user');
    expect((await rejection(auth.authenticate('Bearer sb_AbCdEfGh_bad'))).code).toBe(
      'api_key_revoked',
    );
    expect((await rejection(auth.authenticate('Bearer whatever'))).code).toBe('unauthorized');
  });
});
