import { createHmac } from 'node:crypto';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { b64url, JwksServer, publicPem, sign, testKey, type TestKey } from './test/jwks-server';
import { CognitoJwtVerifierAdapter } from './cognito-jwt.verifier';
import { InvalidTokenError, type InvalidTokenReason } from './jwt-verifier.port';
import { JwtVerifierSet } from './jwt-verifier-set';

const POOL = 'us-east-1_TestPool1';
const ISSUER = `https://cognito-idp.us-east-1.amazonaws.com/${POOL}`;
const CLIENT = 'client-abc';
let idp: JwksServer;
let key: TestKey;
let stranger: TestKey;
let verifier: CognitoJwtVerifierAdapter;

const now = () => Math.floor(Date.now() / 1000);
const access = (over: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  sub: 'cognito-user-1',
  client_id: CLIENT,
  token_use: 'access',
  scope: 'openid',
  username: 'alice',
  iat: now(),
  exp: now() + 600,
  ...over,
});

/**
 * The verifier derives the JWKS URI from the pool id (cognito-idp...amazonaws.com);
 * this cache fetches it from the local server instead, over real HTTP.
 */
function localJwksCache(): SimpleJwksCache {
  return new SimpleJwksCache({
    fetcher: {
      fetch: async (uri: string) => {
        expect(uri).toMatch(
          /^https:\/\/(issuer-)?cognito-idp\.us-east-1\.amazonaws\.com\/us-east-1_TestPool1\/\.well-known\/jwks\.json$/,
        );
        const res = await fetch(idp.jwksUri);
        return res.arrayBuffer();
      },
    },
  });
}

async function reason(token: string): Promise<InvalidTokenReason> {
  try {
    await verifier.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTokenError);
    return (err as InvalidTokenError).reason;
  }
  throw new Error('token was accepted');
}

beforeAll(async () => {
  [key, stranger] = await Promise.all([testKey('cog-1', 'RS256'), testKey('cog-unknown', 'RS256')]);
  idp = new JwksServer([key]);
  await idp.start();
  verifier = new CognitoJwtVerifierAdapter({
    userPoolId: POOL,
    clientId: CLIENT,
    jwksCache: localJwksCache(),
  });
});

afterAll(() => idp.stop());

describe('CognitoJwtVerifierAdapter', () => {
  it('accepts a valid access token fetched against the pool JWKS', async () => {
    const r = await verifier.verify(await sign(key, access()));
    expect(r).toMatchObject({ userId: 'cognito-user-1', issuer: ISSUER });
    expect(r.claims.username).toBe('alice');
    expect(idp.jwksFetches).toBeGreaterThan(0);
  });

  it('accepts the global issuer format too', async () => {
    const iss = `https://issuer-cognito-idp.us-east-1.amazonaws.com/${POOL}`;
    expect(verifier.issuers).toContain(iss);
    await expect(verifier.verify(await sign(key, access({ iss })))).resolves.toMatchObject({
      issuer: iss,
    });
  });

  const battery: Array<[string, () => Promise<string>, InvalidTokenReason]> = [
    ['expired', () => sign(key, access({ exp: now() - 3600, iat: now() - 7200 })), 'expired'],
    ['not yet valid', () => sign(key, access({ nbf: now() + 3600 })), 'not_yet_valid'],
    [
      'wrong issuer (another pool)',
      () =>
        sign(key, access({ iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other' })),
      'wrong_issuer',
    ],
    ['wrong client id', () => sign(key, access({ client_id: 'someone-else' })), 'wrong_audience'],
    [
      'an ID token',
      () => sign(key, access({ token_use: 'id', aud: CLIENT, client_id: undefined })),
      'wrong_token_use',
    ],
    [
      'alg none',
      () => Promise.resolve(`${b64url({ alg: 'none', kid: key.kid })}.${b64url(access())}.`),
      // aws-jwt-verify refuses an empty signature segment before looking at alg
      'malformed',
    ],
    [
      'alg none with a signature segment',
      async () => {
        const [, , s] = (await sign(key, access())).split('.');
        return `${b64url({ alg: 'none', kid: key.kid })}.${b64url(access())}.${s}`;
      },
      'algorithm_not_allowed',
    ],
    [
      'HS256 signed with the public key bytes',
      async () => {
        const head = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url(access())}`;
        return `${head}.${createHmac('sha256', await publicPem(key))
          .update(head)
          .digest('base64url')}`;
      },
      'algorithm_not_allowed',
    ],
    ['an unknown kid', () => sign(stranger, access()), 'unknown_key'],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign(key, access())).split('.');
        return `${h}.${b64url(access({ sub: 'admin' }))}.${s}`;
      },
      'bad_signature',
    ],
  ];

  it.each(battery)('rejects %s', async (_name, make, expected) => {
    expect(await reason(await make())).toBe(expected);
  });

  it('is routed to by JwtVerifierSet through its issuer', async () => {
    const set = new JwtVerifierSet([verifier]);
    await expect(set.verify(await sign(key, access()))).resolves.toMatchObject({
      userId: 'cognito-user-1',
    });
  });
});
