import {
  JwksServer,
  b64url,
  publicPem,
  sign,
  testKey,
  type TestKey,
} from '../../../libs/auth/src/identity/test/jwks-server';
import { SignJWT } from 'jose';
import { postJson, startHarness, type Harness } from './gateway.harness';

const AUDIENCE = 'switchboard-api';

/** The JWT battery through the HTTP edge: only a valid access token gets in, and 401s say nothing. */
describe('OIDC access tokens at the gateway edge', () => {
  let idp: JwksServer;
  let key: TestKey;
  let stranger: TestKey;
  let h: Harness;
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: idp.url,
    aud: AUDIENCE,
    sub: 'oidc-user-1',
    iat: now(),
    exp: now() + 300,
    ...extra,
  });

  beforeAll(async () => {
    key = await testKey('k1', 'RS256');
    stranger = await testKey('k2', 'RS256');
    idp = new JwksServer([key]);
    await idp.start();
    h = await startHarness({
      OIDC_ISSUER: idp.url,
      OIDC_AUDIENCE: AUDIENCE,
      OIDC_JWKS_URI: idp.jwksUri,
    });
  });
  afterAll(async () => {
    await h.close();
    await idp.stop();
  });

  const chatWith = (token: string) =>
    postJson(
      `${h.url}/chat`,
      {
        messages: [{ role: 'user', content: 'hi\n#sim tokens=2' }],
        options: { model: { id: 'sim-gpt' } },
      },
      { authorization: `Bearer ${token}` },
    );

  it('a valid access token streams a chat as that user', async () => {
    const res = await chatWith(await sign(key, claims()));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"s":"result"');
  });

  const bad: Array<[string, () => Promise<string>]> = [
    ['expired', () => sign(key, claims({ exp: now() - 600, iat: now() - 900 }))],
    ['not yet valid', () => sign(key, claims({ nbf: now() + 600 }))],
    ['wrong issuer', () => sign(key, claims({ iss: 'https://evil.example' }))],
    ['wrong audience', () => sign(key, claims({ aud: 'another-api' }))],
    ['an id token', () => sign(key, claims({ token_use: 'id' }))],
    [
      'alg none',
      () => Promise.resolve(`${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`),
    ],
    [
      'HS256 signed with the public key',
      async () =>
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
          .sign(new TextEncoder().encode(await publicPem(key))),
    ],
    ['an unknown kid', () => sign(stranger, claims())],
    [
      'a tampered payload',
      async () => {
        const [hd, , sig] = (await sign(key, claims())).split('.');
        return `${hd}.${b64url(claims({ sub: 'admin' }))}.${sig}`;
      },
    ],
  ];

  it.each(bad)('%s -> 401 unauthorized, no detail', async (_name, make) => {
    const res = await chatWith(await make());
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unauthorized');
    expect(body.error.message).toBe('Missing or invalid credentials.');
  });
});
