import type { Me } from '@switchboard/client';
import { useState } from 'preact/hooks';
import { signIn, type WebConfig } from '../session';
import { errorText } from '../components/errors';

export function SignInPage(props: {
  oidc: WebConfig['oidc'];
  initialError: string | null;
  onSignedIn: (me: Me) => void;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(props.initialError);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>Sign in to Switchboard</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          placeholder="sb_…"
        />
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
      </form>
      {props.oidc && (
        <p>
          <button
            type="button"
            onClick={() =>
              void import('../oidc')
                .then((m) => m.startOidcSignIn(props.oidc!))
                .catch((e) => setError(errorText(e)))
            }
          >
            Sign in with single sign-on
          </button>
        </p>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <p class="hint">
        The key stays in this tab only (session storage) and is sent as a bearer token.
      </p>
    </main>
  );
}
