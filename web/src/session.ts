// The console session: signed in with an admin token exchanged for an HttpOnly cookie
// (POST /api/v1/session), resumed after a reload (GET), ended by sign-out (DELETE) or by any
// 401 of the API. The token itself is never kept: only the answer (name, role, CSRF token),
// and only in memory.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setCsrfToken, setUnauthorizedHandler } from './api';
import type { Role, SessionInfo } from './types';

export const SESSION_ENDED = 'Your session ended: sign in again';

export type SessionState =
  | { kind: 'loading' }
  | { kind: 'signed-out'; message?: string }
  | { kind: 'signed-in'; session: SessionInfo };

let state: SessionState = { kind: 'loading' };
const listeners = new Set<(s: SessionState) => void>();

function set(next: SessionState): void {
  state = next;
  setCsrfToken(next.kind === 'signed-in' ? next.session.csrf_token : null);
  for (const l of listeners) l(next);
}

export function getSession(): SessionState {
  return state;
}

export function useSession(): SessionState {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => {
      listeners.delete(setS);
    };
  }, []);
  return s;
}

// Any 401 after signing in: the session expired, was signed out elsewhere, or its token was
// revoked. Back to the sign-in page with the one message.
setUnauthorizedHandler(() => {
  if (state.kind === 'signed-in') set({ kind: 'signed-out', message: SESSION_ENDED });
});

// On page load: is there a session cookie still good?
export async function resumeSession(): Promise<void> {
  try {
    const s = await api<SessionInfo>('/api/v1/session', { handle401: true });
    set({ kind: 'signed-in', session: s });
  } catch (e) {
    // 401 (no or an ended session) or 404 no_session: sign in. Anything else is said.
    const message =
      e instanceof ApiError && (e.status === 401 || e.status === 404)
        ? undefined
        : e instanceof Error
          ? e.message
          : String(e);
    set({ kind: 'signed-out', message });
  }
}

// Throws ApiError on a refused token (401) or a bad body (400 with fields).
export async function signIn(token: string): Promise<void> {
  const s = await api<SessionInfo>('/api/v1/session', {
    method: 'POST',
    json: { token },
    handle401: true,
  });
  set({ kind: 'signed-in', session: s });
}

export async function signOut(): Promise<void> {
  try {
    await api<void>('/api/v1/session', { method: 'DELETE', handle401: true });
  } catch {
    // Signed out on this page whatever the server says; the cookie may be gone already.
  }
  set({ kind: 'signed-out', message: 'Signed out.' });
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function hasRole(role: Role): boolean {
  return state.kind === 'signed-in' && RANK[state.session.role] >= RANK[role];
}
