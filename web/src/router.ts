// Hash routes (#/devices, #/people/E1001): the server has no fallback for other paths.
import { useEffect, useState } from 'preact/hooks';

export const PAGES = ['integrations', 'devices', 'people', 'events', 'system'] as const;
export type PageName = (typeof PAGES)[number];

export interface Route {
  page: PageName;
  rest: string[];
}

export function parseHash(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const page = (PAGES as readonly string[]).includes(parts[0] ?? '') ? (parts[0] as PageName) : 'integrations';
  return { page, rest: page === parts[0] ? parts.slice(1) : [] };
}

export function href(page: PageName, ...rest: string[]): string {
  return '#/' + [page, ...rest.map(encodeURIComponent)].join('/');
}

export function navigate(page: PageName, ...rest: string[]): void {
  const h = href(page, ...rest);
  if (location.hash !== h) location.hash = h;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
