import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { sign, testKey, type TestKey } from '../../../libs/auth/src/identity/test/jwks-server';
import { startHarness, type Harness } from './gateway.harness';
import { SHOTS, buildWebApp, launchChromium } from './web.harness';

const CLIENT_ID = 'switchboard-web';
const AUDIENCE = 'switchboard-api';

interface Grant {
  challenge: string;
  redirectUri: string;
  clientId: string;
}

/**
 * A minimal authorization server for a public client: discovery, an
 * authorization endpoint that approves at once, and a token endpoint that
 * checks the PKCE verifier (RFC 7636, S256) before issuing an access token.
 */
class TestAuthorizationServer {
  readonly grants = new Map<string, Grant>();
  readonly tokenRequests: Array<Record<string, string>> = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly key: TestKey) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server?.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', this.url);
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' };
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', ...cors });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    if (u.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer: this.url,
        authorization_endpoint: `${this.url}/authorize`,
        token_endpoint: `${this.url}/token`,
        jwks_uri: `${this.url}/jwks`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    if (u.pathname === '/jwks') return json(200, { keys: [this.key.jwk] });
    if (u.pathname === '/authorize') {
      const q = u.searchParams;
      if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
        return json(400, { error: 'invalid_request' });
      const code = randomBytes(16).toString('hex');
      this.grants.set(code, {
        challenge: q.get('code_challenge')!,
        redirectUri: q.get('redirect_uri')!,
        clientId: q.get('client_id')!,
      });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      for await (const c of req) raw += String(c);
      const form = Object.fromEntries(new URLSearchParams(raw));
      this.tokenRequests.push(form);
      const grant = this.grants.get(form.code);
      this.grants.delete(form.code);
      const verifierHash = createHash('sha256')
        .update(form.code_verifier ?? '')
        .digest('base64url');
      if (
        !grant ||
        form.grant_type !== 'authorization_code' ||
        grant.redirectUri !== form.redirect_uri ||
        grant.clientId !== form.client_id ||
        grant.challenge !== verifierHash
      )
        return json(400, { error: 'invalid_grant' });
      const now = Math.floor(Date.now() / 1000);
      const token = await sign(this.key, {
        iss: this.url,
        aud: AUDIENCE,
        sub: 'sso-user-7',
        iat: now,
        exp: now + 300,
      });
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: 300 });
    }
    res.writeHead(404).end();
  }
}

/** Single sign-on in Chromium: authorization code + PKCE against a local issuer. */
describe('web app single sign-on (OIDC, authorization code + PKCE)', () => {
  let idp: TestAuthorizationServer;
  let h: Harness;
  let webDir: string;
  let browser: Browser;

  beforeAll(async () => {
    idp = new TestAuthorizationServer(await testKey('sso-1', 'RS256'));
    await idp.start();
    webDir = await buildWebApp();
    h = await startHarness({
      WEB_DIR: webDir,
      OIDC_ISSUER: idp.url,
      OIDC_AUDIENCE: AUDIENCE,
      WEB_OIDC_CLIENT_ID: CLIENT_ID,
      WEB_OIDC_SCOPES: 'openid',
    });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await idp?.stop();
    await rm(webDir, { recursive: true, force: true });
  });

  it('publishes the issuer and client id, and lets the issuer through the CSP', async () => {
    expect(await (await fetch(`${h.url}/web-config.json`)).json()).toEqual({
      oidc: { issuer: idp.url, clientId: CLIENT_ID, scopes: 'openid' },
    });
    const csp = (await fetch(`${h.url}/`)).headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(new RegExp(`connect-src 'self' ${idp.url}(;| )`));
  });

  it('signs in through the issuer and calls the API with the access token', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(h.url);
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
    // back from the issuer: signed in as the token's subject, callback parameters gone
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await page.locator('.who').textContent()).toBe('sso-user-7');
    expect(new URL(page.url()).search).toBe('');
    await page.screenshot({ path: join(SHOTS, '09-sso-signed-in.png') });
    expect(idp.tokenRequests).toHaveLength(1);
    expect(idp.tokenRequests[0]).toMatchObject({
      grant_type: 'authorization_code',
      client_id: CLIENT_ID,
      redirect_uri: `${h.url}/`,
    });
    expect(idp.tokenRequests[0].code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses a callback it did not start (forged code and state)', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${h.url}/?code=forged&state=forged`);
    // no sign-in pending in this tab: the parameters are ignored, the sign-in form shows
    await page.getByLabel('API key').waitFor();
    expect(idp.tokenRequests).toHaveLength(1);
    await page.close();
  });
});
