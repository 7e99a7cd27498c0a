/**
 * A small client-side router on the History API: pages are paths under /dashboard/, the
 * chosen organization is `?org=` (an id, never a secret).
 */
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/dashboard';

export interface Location {
  /** The page: the path after /dashboard, e.g. "/keys" ("/" for the first page). */
  page: string;
  query: URLSearchParams;
}

function current(): Location {
  const path = window.location.pathname.startsWith(BASE) ? window.location.pathname.slice(BASE.length) : '/';
  return { page: path.replace(/\/+$/, '') || '/', query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** Goes to a dashboard path such as "/keys?org=…" without reloading. */
export function navigate(to: string, replace = false): void {
  const url = `${BASE}${to}`;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  listeners.forEach((l) => l());
}

/** The current location; re-renders on every navigation. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = (): void => setLocation(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return location;
}

/** A dashboard path with the organization kept in the query. */
export function href(page: string, orgId?: string): string {
  return orgId ? `${page}?org=${encodeURIComponent(orgId)}` : page;
}
