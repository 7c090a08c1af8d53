import { createHmac } from 'node:crypto';
import { b64url, JwksServer, publicPem, sign, testKey, type TestKey } from './test/jwks-server';
import { InvalidTokenError, type InvalidTokenReason } from './jwt-verifier.port';
import { JwtVerifierSet } from './jwt-verifier-set';
import { OidcJwtVerifier } from './oidc-jwt.verifier';

const AUD = 'switchboard-api';
let idp: JwksServer;
let rsa: TestKey;
let ec: TestKey;
let stranger: TestKey;
let verifier: OidcJwtVerifier;

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: idp.url,
  aud: AUD,
  sub: 'user-123',
  iat: now(),
  exp: now() + 600,
  ...over,
});

async function reason(token: string, v: { verify(t: string): Promise<unknown> } = verifier) {
  try {
    await v.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTokenError);
    return (err as InvalidTokenError).reason;
  }
  throw new Error('token was accepted');
}

beforeAll(async () => {
  [rsa, ec, stranger] = await Promise.all([
    testKey('rsa-1', 'RS256'),
    testKey('ec-1', 'ES256'),
    testKey('not-published', 'RS256'),
  ]);
  idp = new JwksServer([rsa, ec]);
  await idp.start();
  verifier = new OidcJwtVerifier({ issuer: idp.url, audience: AUD, jwksUri: idp.jwksUri });
});

afterAll(() => idp.stop());

describe('OidcJwtVerifier', () => {
  it('accepts a valid RS256 access token and returns the subject and claims', async () => {
    const r = await verifier.verify(await sign(rsa, claims({ scope: 'chat' })));
    expect(r.userId).toBe('user-123');
    expect(r.issuer).toBe(idp.url);
    expect(r.claims.scope).toBe('chat');
  });

  it('accepts a valid ES256 token', async () => {
    await expect(verifier.verify(await sign(ec, claims()))).resolves.toMatchObject({
      userId: 'user-123',
    });
  });

  const battery: Array<[string, () => Promise<string>, InvalidTokenReason]> = [
    ['expired', () => sign(rsa, claims({ exp: now() - 3600, iat: now() - 7200 })), 'expired'],
    ['not yet valid', () => sign(rsa, claims({ nbf: now() + 3600 })), 'not_yet_valid'],
    ['wrong issuer', () => sign(rsa, claims({ iss: 'https://evil.example' })), 'wrong_issuer'],
    ['wrong audience', () => sign(rsa, claims({ aud: 'another-api' })), 'wrong_audience'],
    [
      'an ID token instead of an access token',
      () => sign(rsa, claims({ token_use: 'id' })),
      'wrong_token_use',
    ],
    [
      'alg none',
      () => Promise.resolve(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`),
      'algorithm_not_allowed',
    ],
    [
      'HS256 signed with the public key bytes',
      async () => {
        const head = `${b64url({ alg: 'HS256', typ: 'JWT', kid: rsa.kid })}.${b64url(claims())}`;
        const mac = createHmac('sha256', await publicPem(rsa))
          .update(head)
          .digest('base64url');
        return `${head}.${mac}`;
      },
      'algorithm_not_allowed',
    ],
    ['an unknown kid', () => sign(stranger, claims()), 'unknown_key'],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign(rsa, claims())).split('.');
        return `${h}.${b64url(claims({ sub: 'admin' }))}.${s}`;
      },
      'bad_signature',
    ],
    ['no exp', () => sign(rsa, { iss: idp.url, aud: AUD, sub: 'u' }), 'missing_claim'],
    ['no subject', () => sign(rsa, claims({ sub: undefined })), 'missing_claim'],
    ['garbage', () => Promise.resolve('not-a-jwt'), 'malformed'],
  ];

  it.each(battery)('rejects %s', async (_name, make, expected) => {
    expect(await reason(await make())).toBe(expected);
  });

  it('keeps the reason out of anything but the error object (message carries no token data)', async () => {
    const token = await sign(rsa, claims({ exp: now() - 3600, sub: 'secret-subject' }));
    const err: unknown = await verifier.verify(token).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTokenError);
    expect((err as Error).message).toBe('invalid token: expired');
  });

  it('uses the configured user-id claim', async () => {
    const v = new OidcJwtVerifier({
      issuer: idp.url,
      audience: AUD,
      jwksUri: idp.jwksUri,
      userIdClaim: 'oid',
    });
    await expect(v.verify(await sign(rsa, claims({ oid: 'object-9' })))).resolves.toMatchObject({
      userId: 'object-9',
    });
    expect(await reason(await sign(rsa, claims()), v)).toBe('missing_claim');
  });

  it('finds the JWKS through OIDC discovery when no jwksUri is given', async () => {
    const v = new OidcJwtVerifier({ issuer: idp.url, audience: [AUD, 'other'] });
    await expect(v.verify(await sign(ec, claims()))).resolves.toMatchObject({ userId: 'user-123' });
  });

  it('refetches the JWKS when a key rotates in', async () => {
    const rotated = await testKey('rsa-2', 'RS256');
    const v = new OidcJwtVerifier({
      issuer: idp.url,
      audience: AUD,
      jwksUri: idp.jwksUri,
      jwksCooldownMs: 0,
    });
    await v.verify(await sign(rsa, claims()));
    idp.keys = [rsa, ec, rotated];
    try {
      await expect(v.verify(await sign(rotated, claims()))).resolves.toMatchObject({
        userId: 'user-123',
      });
    } finally {
      idp.keys = [rsa, ec];
    }
  });

  it('reports an unreachable identity provider as jwks_unavailable', async () => {
    const v = new OidcJwtVerifier({
      issuer: 'http://127.0.0.1:1',
      audience: AUD,
      fetchTimeoutMs: 500,
    });
    expect(await reason(await sign(rsa, claims({ iss: 'http://127.0.0.1:1' })), v)).toBe(
      'jwks_unavailable',
    );
  });

  it('refuses to be configured with a symmetric algorithm', () => {
    expect(
      () => new OidcJwtVerifier({ issuer: idp.url, audience: AUD, algorithms: ['HS256'] }),
    ).toThrow(/not allowed/);
  });
});

describe('JwtVerifierSet', () => {
  it('routes a token to the verifier of its issuer', async () => {
    const set = new JwtVerifierSet([verifier]);
    await expect(set.verify(await sign(rsa, claims()))).resolves.toMatchObject({
      userId: 'user-123',
    });
  });

  it('rejects tokens from issuers nobody configured, and non-JWTs', async () => {
    const set = new JwtVerifierSet([verifier]);
    expect(await reason(await sign(rsa, claims({ iss: 'https://other.example' })), set)).toBe(
      'unknown_issuer',
    );
    expect(await reason('sb_abcdefgh_secret', set)).toBe('malformed');
    expect(await reason('a.b.c', set)).toBe('malformed');
    expect(new JwtVerifierSet([]).enabled).toBe(false);
  });
});
