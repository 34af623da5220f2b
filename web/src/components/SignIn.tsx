// Not signed in: the link `make run` prints signs in; pasting the key does the same exchange.
export function SignIn() {
  return (
    <main className="signin">
      <h1>optbox sandbox</h1>
      <p>
        Sign in with the link <code>make run</code> printed (<code>/sandbox?token=…</code>), or paste an API key.
      </p>
      <form method="get" action="/sandbox">
        <label htmlFor="token">API key</label>
        <input id="token" name="token" type="password" autoComplete="off" required />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
