// The admin API on the same origin: fetch with the session cookie, the CSRF header on every
// change, JSON in and out, and one error type for every refusal (docs/admin-api.md).
import { parseJson } from './json';

export type FieldProblems = Record<string, string>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldProblems;
  // The whole error body: 422 face refusals add `faces` and `quality`, 409 duplicate_face
  // adds `other_user` and `quality`.
  readonly body: Record<string, unknown>;

  constructor(status: number, code: string, message: string, fields: FieldProblems = {}, body: Record<string, unknown> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.body = body;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: ((message: string) => void) | null = null;

// Kept in memory only; after a reload GET /api/v1/session answers it again.
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

// Called on any 401 (the session ended, expired or its token was revoked).
export function setUnauthorizedHandler(handler: ((message: string) => void) | null): void {
  onUnauthorized = handler;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  json?: unknown;
  // A raw body (a photo for enrollment) with its content type.
  body?: Blob;
  contentType?: string;
  signal?: AbortSignal;
  // A 401 is the caller's to show (sign-in, resuming a session) rather than "session ended".
  handle401?: boolean;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `${path}?${s}` : path;
}

async function send(path: string, opts: RequestOptions, accept: string): Promise<Response> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { Accept: accept };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = opts.contentType || opts.body.type || 'application/octet-stream';
    body = opts.body;
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  try {
    return await fetch(withQuery(path, opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check that facegated is running and try again.');
  }
}

async function errorOf(res: Response, opts: RequestOptions): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  const text = await res.text().catch(() => '');
  try {
    const parsed = parseJson(text);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page, a plain-text answer): the status says what we know.
  }
  const code = typeof body.error === 'string' ? body.error : `http_${res.status}`;
  const message =
    typeof body.message === 'string' && body.message
      ? body.message
      : `The server answered ${res.status} ${res.statusText || ''}`.trim();
  const fields =
    body.fields && typeof body.fields === 'object' ? (body.fields as FieldProblems) : {};
  const err = new ApiError(res.status, code, message, fields, body);
  if (res.status === 401 && !opts.handle401 && onUnauthorized) onUnauthorized(message);
  return err;
}

// A JSON request; resolves to the answer (undefined for 204).
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts, 'application/json');
  if (!res.ok) throw await errorOf(res, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  try {
    return parseJson(text) as T;
  } catch {
    throw new ApiError(res.status, 'bad_answer', 'The server answered something that is not JSON.');
  }
}

// A text answer (the Prometheus metrics).
export async function apiText(path: string, opts: RequestOptions = {}): Promise<string> {
  const res = await send(path, opts, 'text/plain');
  if (!res.ok) throw await errorOf(res, opts);
  return res.text();
}

// A readiness report: /readyz answers 503 with the same JSON while not ready.
export async function apiJsonAnyStatus<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await send(path, {}, 'application/json');
  const text = await res.text();
  try {
    return { status: res.status, body: parseJson(text) as T };
  } catch {
    throw new ApiError(res.status, 'bad_answer', `${path} answered ${res.status} without JSON.`);
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

// "settings.url" -> "url" for forms that edit an integration's settings.
export function fieldsUnder(fields: FieldProblems, prefix: string): FieldProblems {
  const out: FieldProblems = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k.startsWith(prefix) ? k.slice(prefix.length) : k] = v;
  }
  return out;
}
