import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, fieldsUnder } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

// Loads once per change of `deps`; reload() loads again without clearing what is shown.
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const current = useRef<AbortController | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    current.current?.abort();
    const ctl = new AbortController();
    current.current = ctl;
    setLoading(true);
    try {
      const d = await loadRef.current(ctl.signal);
      if (ctl.signal.aborted) return;
      setData(d);
      setError(undefined);
    } catch (e) {
      if (ctl.signal.aborted || (e instanceof DOMException && e.name === 'AbortError')) return;
      setError(e);
    } finally {
      if (!ctl.signal.aborted) setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reload();
    return () => current.current?.abort();
  }, deps);

  return { data, error, loading, reload };
}

// Calls fn every `ms` while mounted (and `enabled`), never overlapping itself, and not while
// the tab is hidden: every request counts as activity for the session's idle timeout, so a
// console left in a background tab does not keep its session alive.
export function useInterval(fn: () => Promise<void> | void, ms: number, enabled = true): void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (!enabled) return undefined;
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        if (document.visibilityState !== 'hidden') await fnRef.current();
      } finally {
        if (!stopped) timer = window.setTimeout(tick, ms);
      }
    };
    timer = window.setTimeout(tick, ms);
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [ms, enabled]);
}

let idCounter = 0;
// A stable id for label/for pairs.
export function useId(prefix: string): string {
  const ref = useRef<string>('');
  if (!ref.current) ref.current = `${prefix}-${++idCounter}`;
  return ref.current;
}

// A form that checks what it can in the page, then sends one request: the page's problems
// (`local`, by field), the server's refusal (`error`, and its field problems under
// `fieldPrefix`, e.g. "settings."), and whether the request is in flight.
export function useFormRequest(fieldPrefix = '') {
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? fieldsUnder(error.fields, fieldPrefix) : {};
  const problem = (k: string): string | undefined => local[k] ?? fields[k];

  const reset = () => {
    setLocal({});
    setError(undefined);
  };

  // Shows the page's problems and sends nothing if there are any; otherwise runs the request
  // and answers its result, or null when it was refused (the refusal is kept in `error`).
  const run = async <T>(problems: Record<string, string>, request: () => Promise<T>): Promise<T | null> => {
    setLocal(problems);
    if (Object.keys(problems).length) return null;
    setBusy(true);
    setError(undefined);
    try {
      return await request();
    } catch (e) {
      setError(e);
      return null;
    } finally {
      setBusy(false);
    }
  };

  return { local, setLocal, error, setError, busy, fields, problem, reset, run };
}
