// The page: sign-in, or the header (who is signed in, sign-out), the navigation and the page
// of the current hash route.
import { useEffect } from 'preact/hooks';
import { href, type PageName, useRoute } from './router';
import { resumeSession, signOut, useSession } from './session';
import { SignIn } from './pages/SignIn';
import { IntegrationsPage } from './pages/Integrations';
import { DevicesPage } from './pages/Devices';
import { PeoplePage } from './pages/People';
import { EventsPage } from './pages/Events';
import { SystemPage } from './pages/System';
import type { SessionInfo } from './types';

const NAV: { page: PageName; label: string }[] = [
  { page: 'integrations', label: 'Integrations' },
  { page: 'devices', label: 'Devices' },
  { page: 'people', label: 'People' },
  { page: 'events', label: 'Events' },
  { page: 'system', label: 'System' },
];

export function App() {
  const s = useSession();
  useEffect(() => {
    void resumeSession();
  }, []);

  if (s.kind === 'loading') {
    return (
      <main id="main" class="loading-page" aria-busy="true">
        <p role="status">Loading…</p>
      </main>
    );
  }
  if (s.kind === 'signed-out') return <SignIn message={s.message} />;
  return <Console session={s.session} />;
}

function Console({ session }: { session: SessionInfo }) {
  const route = useRoute();
  const title = NAV.find((n) => n.page === route.page)?.label ?? '';
  useEffect(() => {
    document.title = `${title} · Facegate console`;
  }, [title]);

  return (
    <div class="shell">
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar" data-testid="header">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          Facegate <span class="brand-sub">console</span>
        </div>
        <div class="who">
          <span data-testid="session-name" class="who-name">
            {session.name}
          </span>
          <span class="role" data-testid="session-role">
            {session.role}
          </span>
          <button type="button" class="button small secondary" onClick={() => void signOut()} data-testid="signout">
            Sign out
          </button>
        </div>
      </header>
      <nav class="sidenav" aria-label="Pages">
        <ul>
          {NAV.map((n) => (
            <li key={n.page}>
              <a
                href={href(n.page)}
                aria-current={route.page === n.page ? 'page' : undefined}
                data-testid={`nav-${n.page}`}
              >
                {n.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" class="content" tabIndex={-1} data-testid={`page-${route.page}`}>
        {route.page === 'integrations' && <IntegrationsPage selected={route.rest[0]} />}
        {route.page === 'devices' && <DevicesPage />}
        {route.page === 'people' && <PeoplePage personId={route.rest[0]} />}
        {route.page === 'events' && <EventsPage />}
        {route.page === 'system' && <SystemPage />}
      </main>
    </div>
  );
}
