import * as oauth from 'oauth4webapi';
import type { WebConfig } from './session';

/**
 * Browser sign-in with the configured issuer: OAuth 2.0 authorization code
 * with PKCE (RFC 7636) for a public client, through oauth4webapi. The verifier
 * and state stay in sessionStorage between the redirect and the callback.
 */
const PENDING_KEY = 'switchboard.oidc';

type OidcConfig = NonNullable<WebConfig['oidc']>;

const redirectUri = () => `${location.origin}/`;

/** Plain HTTP is accepted only for an issuer on this machine (development, tests). */
function httpOptions(issuer: URL) {
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  return { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' && loopback };
}

async function discover(cfg: OidcConfig): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(cfg.issuer);
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, httpOptions(issuer)),
  );
}

export async function startOidcSignIn(cfg: OidcConfig): Promise<void> {
  const as = await discover(cfg);
  if (!as.authorization_endpoint) throw new Error('the issuer has no authorization endpoint');
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ codeVerifier, state }));
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', cfg.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', cfg.scopes);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  location.assign(url.href);
}

/** Whether this page load is the issuer's redirect back to us. */
export function isOidcCallback(): boolean {
  const q = new URLSearchParams(location.search);
  return sessionStorage.getItem(PENDING_KEY) !== null && (q.has('code') || q.has('error'));
}

/** Exchanges the code for an access token; clears the callback parameters from the address bar. */
export async function completeOidcSignIn(cfg: OidcConfig): Promise<string> {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? '{}') as {
    codeVerifier?: string;
    state?: string;
  };
  sessionStorage.removeItem(PENDING_KEY);
  const current = new URL(location.href);
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  if (!pending.codeVerifier || !pending.state) throw new Error('no sign-in was started here');
  const as = await discover(cfg);
  const client: oauth.Client = { client_id: cfg.clientId };
  const params = oauth.validateAuthResponse(as, client, current, pending.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    pending.codeVerifier,
    httpOptions(new URL(cfg.issuer)),
  );
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  return tokens.access_token;
}
