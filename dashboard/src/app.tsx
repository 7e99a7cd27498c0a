/** The shell: the session check, the navigation and the page for the current path. */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, currentSession, signOut, whenSignedOut, type SessionInfo } from './api';
import { describe } from './components';
import { AuditPage } from './pages/audit';
import { KeysPage } from './pages/keys';
import { ModelsPage } from './pages/models';
import { OrganizationsPage } from './pages/organizations';
import { OverviewPage } from './pages/overview';
import { PlaygroundPage, PlaygroundBadge } from './pages/playground';
import { RelaysPage } from './pages/relays';
import { WebhooksPage } from './pages/webhooks';
import { BASE, navigate, useLocation, type Location } from './router';
import { SignIn } from './sign-in';

/** The first is the landing page, and the page for any unknown path. */
const PAGES: { path: string; title: string; render: (location: Location) => JSX.Element }[] = [
  { path: '/overview', title: 'Overview', render: () => <OverviewPage /> },
  { path: '/organizations', title: 'Organizations', render: (l) => <OrganizationsPage location={l} /> },
  { path: '/keys', title: 'API keys', render: (l) => <KeysPage location={l} /> },
  { path: '/models', title: 'Models', render: (l) => <ModelsPage location={l} /> },
  { path: '/webhooks', title: 'Webhooks', render: (l) => <WebhooksPage location={l} /> },
  { path: '/relays', title: 'Live relays', render: () => <RelaysPage /> },
  { path: '/audit', title: 'Audit trail', render: (l) => <AuditPage location={l} /> },
  { path: '/playground', title: 'Playground', render: (l) => <PlaygroundPage location={l} /> },
];

type SessionState = { kind: 'checking' } | { kind: 'signed-out'; notice?: string } | { kind: 'signed-in'; session: SessionInfo } | { kind: 'failed'; error: string };

export function App(): JSX.Element {
  const [state, setState] = useState<SessionState>({ kind: 'checking' });
  const location = useLocation();

  useEffect(() => {
    whenSignedOut(() => setState({ kind: 'signed-out', notice: 'Your session ended (it expired, or the admin token changed): sign in again.' }));
    currentSession().then(
      (session) => setState(session ? { kind: 'signed-in', session } : { kind: 'signed-out' }),
      (err: unknown) => setState(err instanceof ApiFailure && err.code === 'ADMIN_DISABLED' ? { kind: 'failed', error: err.message } : { kind: 'failed', error: describe(err) }),
    );
  }, []);

  if (state.kind === 'checking') return <p class="muted centered">Loading…</p>;
  if (state.kind === 'failed') {
    return (
      <main class="sign-in">
        <div class="card">
          <h1>The dashboard cannot start</h1>
          <p class="form-error" role="alert">
            {state.error}
          </p>
        </div>
      </main>
    );
  }
  if (state.kind === 'signed-out') return <SignIn notice={state.notice} onSignedIn={(session) => setState({ kind: 'signed-in', session })} />;

  const page = PAGES.find((p) => p.path === location.page) ?? (PAGES[0] as (typeof PAGES)[number]);
  const org = location.query.get('org');
  return (
    <div class="shell">
      <header class="top">
        <a
          class="brand"
          href={`${BASE}/overview`}
          onClick={(e) => {
            e.preventDefault();
            navigate('/overview');
          }}
        >
          <span class="logo" aria-hidden="true">
            ◆
          </span>{' '}
          ofgw
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => {
            const to = org ? `${p.path}?org=${org}` : p.path;
            return (
              <a
                key={p.path}
                href={`${BASE}${to}`}
                aria-current={p === page ? 'page' : undefined}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(to);
                }}
              >
                {p.title}
                {p.path === '/playground' ? <PlaygroundBadge /> : null}
              </a>
            );
          })}
        </nav>
        <button
          type="button"
          class="sign-out"
          onClick={() => {
            void signOut().finally(() => setState({ kind: 'signed-out', notice: 'Signed out.' }));
          }}
        >
          Sign out
        </button>
      </header>
      <main class="content">{page.render(location)}</main>
    </div>
  );
}
