import type { Me } from '@switchboard/client';
import { useEffect, useState } from 'preact/hooks';
import { AdminPage } from './pages/admin';
import { ChatPage } from './pages/chat';
import { SignInPage } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import {
  client,
  isAdmin,
  loadWebConfig,
  signIn,
  signOut,
  storedToken,
  type WebConfig,
} from './session';

type Route = 'chat' | 'admin' | 'usage';

/** `#/chat`, `#/admin`, `#/usage`; other fragments (citation anchors) leave the page as it is. */
function routeOf(hash: string, current: Route): Route {
  if (!hash.startsWith('#/')) return current;
  const r = hash.slice(2);
  return r === 'admin' || r === 'usage' ? r : 'chat';
}

export function App() {
  const [config, setConfig] = useState<WebConfig | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const [authError, setAuthError] = useState<string | null>(null);
  const [route, setRoute] = useState<Route>(routeOf(location.hash, 'chat'));

  useEffect(() => {
    const onHash = () => setRoute((r) => routeOf(location.hash, r));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    void (async () => {
      const cfg = await loadWebConfig().catch(() => ({ oidc: null }));
      setConfig(cfg);
      try {
        // the OIDC code (oauth4webapi) loads only where an issuer is configured
        const oidc = cfg.oidc ? await import('./oidc') : null;
        if (cfg.oidc && oidc?.isOidcCallback())
          setMe(await signIn(await oidc.completeOidcSignIn(cfg.oidc)));
        else if (storedToken()) setMe(await client.me());
      } catch (e) {
        signOut();
        setAuthError(e instanceof Error ? e.message : String(e));
      }
      setReady(true);
    })();
  }, []);

  useEffect(() => {
    const titles: Record<Route, string> = { chat: 'Chat', admin: 'Admin', usage: 'Usage' };
    document.title = me ? `${titles[route]} · Switchboard` : 'Sign in · Switchboard';
  }, [route, me]);

  if (!ready) return <p class="loading">Loading…</p>;
  if (!me)
    return (
      <SignInPage
        oidc={config?.oidc ?? null}
        initialError={authError}
        onSignedIn={(m) => {
          setAuthError(null);
          setMe(m);
        }}
      />
    );

  const admin = isAdmin(me);
  const page = route === 'admin' && !admin ? 'chat' : route;
  return (
    <div class="shell">
      <header class="topbar">
        <span class="brand">Switchboard</span>
        <nav aria-label="Main">
          <a href="#/chat" aria-current={page === 'chat' ? 'page' : undefined}>
            Chat
          </a>
          <a href="#/usage" aria-current={page === 'usage' ? 'page' : undefined}>
            Usage
          </a>
          {admin && (
            <a href="#/admin" aria-current={page === 'admin' ? 'page' : undefined}>
              Admin
            </a>
          )}
        </nav>
        <span class="who" title={me.scopes.join(', ')}>
          {me.userId}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            signOut();
            setMe(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        {page === 'chat' && <ChatPage me={me} />}
        {page === 'usage' && <UsagePage me={me} />}
        {page === 'admin' && <AdminPage />}
      </main>
    </div>
  );
}
