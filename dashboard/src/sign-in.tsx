/** The sign-in form: the admin token goes to the gateway once and is not kept anywhere. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { signIn, type SessionInfo } from './api';
import { Field, FormError, useAction } from './components';

export function SignIn({ onSignedIn, notice }: { onSignedIn: (session: SessionInfo) => void; notice?: string }): JSX.Element {
  const [token, setToken] = useState('');
  const { busy, error, setError, run } = useAction();
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (token.trim() === '') return setError('Admin token: required (the OFGW_ADMIN_TOKEN this gateway runs with)');
    const session = await run(() => signIn(token.trim()));
    if (session) {
      setToken('');
      onSignedIn(session);
    }
  };
  return (
    <main class="sign-in">
      <form class="card" onSubmit={(e) => void submit(e)} aria-label="Sign in" noValidate>
        <h1>
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          ofgw dashboard
        </h1>
        <p class="muted">Sign in with this gateway's admin token. It is sent once to start a session and is not stored in the browser.</p>
        {notice ? <p class="notice">{notice}</p> : null}
        <Field label="Admin token" name="token" type="password" value={token} onInput={setToken} autoComplete="current-password" required />
        <FormError error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
