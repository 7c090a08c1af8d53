import { SwitchboardClient, type Me } from '@switchboard/client';

/**
 * The signed-in session. The token lives in sessionStorage (this tab only,
 * gone when it closes) and is sent as a bearer header: never a cookie, so no
 * other site can make the browser spend it.
 */
const TOKEN_KEY = 'switchboard.token';

export interface WebConfig {
  oidc: { issuer: string; clientId: string; scopes: string } | null;
}

export const client = new SwitchboardClient({
  baseUrl: '',
  token: () => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
});

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Checks the token with GET /me and keeps it when the gateway accepts it. */
export async function signIn(token: string): Promise<Me> {
  const probe = new SwitchboardClient({ baseUrl: '', token });
  const me = await probe.me();
  sessionStorage.setItem(TOKEN_KEY, token);
  return me;
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function loadWebConfig(): Promise<WebConfig> {
  const res = await fetch('/web-config.json');
  if (!res.ok) return { oidc: null };
  return (await res.json()) as WebConfig;
}

export const isAdmin = (me: Me | null) => me?.scopes.includes('admin') ?? false;

export function formatUsd(micros: number): string {
  const usd = micros / 1_000_000;
  if (usd === 0) return '$0';
  if (usd < 0.01) return `$${usd.toFixed(6)}`;
  return `$${usd.toFixed(2)}`;
}
