// Sign-in with an admin token. The token goes to POST /api/v1/session once and is dropped:
// the input is cleared and nothing is stored (the server answers an HttpOnly cookie).
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { Field } from '../components/Field';
import { StatusNote } from '../components/StatusNote';
import { signIn } from '../session';

export function SignIn({ message }: { message?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    input.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const value = token.trim();
    setBusy(true);
    setError(null);
    try {
      await signIn(value);
      setToken('');
    } catch (err) {
      setToken('');
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
      input.current?.focus();
    }
  };

  const fieldError =
    error instanceof ApiError ? (error.fields.token ?? (error.status === 401 ? error.message : undefined)) : undefined;
  const generalError = error && !fieldError ? error.message : undefined;

  return (
    <main id="main" class="signin" data-testid="signin-page">
      <form class="signin-card" onSubmit={submit} aria-labelledby="signin-title" data-testid="signin-form">
        <div class="brand brand-large" aria-hidden="true">
          <span class="brand-mark" />
          Facegate
        </div>
        <h1 id="signin-title">Sign in to the console</h1>
        {message && (
          <StatusNote tone="info" testid="signin-message">
            {message}
          </StatusNote>
        )}
        <Field
          id="signin-token"
          label="Admin token"
          hint={
            <>
              A token made with <code>facegatectl token create</code> (starts with <code>fgt_</code>). It is
              exchanged for a session and not kept by this page.
            </>
          }
          error={fieldError}
          required
        >
          <input
            ref={input}
            id="signin-token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            value={token}
            onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
            aria-invalid={fieldError ? 'true' : undefined}
            aria-describedby={`signin-token-hint${fieldError ? ' signin-token-error' : ''}`}
            data-testid="signin-token"
          />
        </Field>
        {generalError && (
          <p class="note note-error" role="alert" data-testid="signin-error">
            {generalError}
          </p>
        )}
        <button type="submit" class="button primary wide" disabled={busy || !token.trim()} data-testid="signin-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
