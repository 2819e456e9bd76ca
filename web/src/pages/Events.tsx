// Access events, newest first, with the API's filters; live: every 2 s the events after the
// newest shown are asked for (`after`), paged down with the cursor after a burst, and added on
// top (rows are keyed by id, so nothing already shown is drawn again). "Show older" follows next_cursor. The CSV export is a plain
// download link with the same filters (the session cookie goes with it).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Query, withQuery } from '../api';
import { DataTable } from '../components/DataTable';
import { ErrorNote } from '../components/ErrorNote';
import { SelectField, SelectOrTextField, Switch, TextField } from '../components/Field';
import { Badge } from '../components/StatusBadge';
import { doorName, formatNumber, formatTime, localInputToIso } from '../format';
import { compareIds } from '../json';
import { useInterval, useLoad } from '../hooks';
import { href } from '../router';
import type { AccessEvent, Device, Door, Page } from '../types';
import { listAll } from './Devices';

const PAGE = 100;
const MAX_ROWS = 2000;
// At most this many pages are read to catch up after a burst (then the rest are older pages).
const MAX_CATCH_UP_PAGES = 10;

interface Filters {
  door: string;
  user: string;
  device: string;
  decision: string;
  reason: string;
  from: string;
  until: string;
}

const NO_FILTERS: Filters = { door: '', user: '', device: '', decision: '', reason: '', from: '', until: '' };

function toQuery(f: Filters): Query {
  return {
    door: f.door.trim(),
    user: f.user.trim(),
    device: f.device.trim(),
    decision: f.decision,
    reason: f.reason.trim(),
    from: localInputToIso(f.from),
    until: localInputToIso(f.until),
  };
}

export function EventsPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [events, setEvents] = useState<AccessEvent[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [live, setLive] = useState(true);
  const [updated, setUpdated] = useState<Date | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const generation = useRef(0);
  const eventsRef = useRef<AccessEvent[]>([]);
  eventsRef.current = events;

  const doors = useLoad((s) => listAll<Door>('/api/v1/doors', s), []);
  const devices = useLoad((s) => listAll<Device>('/api/v1/devices', s), []);
  const doorById = new Map((doors.data ?? []).map((d) => [d.id, d]));
  const deviceById = new Map((devices.data ?? []).map((d) => [d.id, d]));

  const query = toQuery(filters);

  // The first page for these filters (again).
  useEffect(() => {
    const mine = ++generation.current;
    setLoading(true);
    setEvents([]);
    setOlder(null);
    setFresh(new Set());
    api<Page<AccessEvent>>('/api/v1/events', { query: { ...query, limit: PAGE } })
      .then((p) => {
        if (mine !== generation.current) return;
        setEvents(p.items);
        setOlder(p.next_cursor);
        setError(undefined);
        setUpdated(new Date());
      })
      .catch((e) => {
        if (mine === generation.current) setError(e);
      })
      .finally(() => {
        if (mine === generation.current) setLoading(false);
      });
  }, [JSON.stringify(query)]);

  const poll = async () => {
    const mine = generation.current;
    const top = eventsRef.current[0]?.id;
    const incoming: AccessEvent[] = [];
    let cursor: string | null = null;
    try {
      for (let i = 0; i < MAX_CATCH_UP_PAGES; i++) {
        const p: Page<AccessEvent> = await api<Page<AccessEvent>>('/api/v1/events', {
          query: { ...query, limit: PAGE, cursor, after: top },
        });
        if (mine !== generation.current) return;
        const newer = top === undefined ? p.items : p.items.filter((e) => compareIds(e.id, top) > 0);
        incoming.push(...newer);
        // Done when every event after the newest shown has come (or nothing is shown yet).
        if (!p.next_cursor || top === undefined) break;
        cursor = p.next_cursor;
      }
    } catch (e) {
      if (mine === generation.current) setError(e);
      return;
    }
    if (mine !== generation.current) return;
    setError(undefined);
    setUpdated(new Date());
    if (incoming.length === 0) return;
    setFresh(new Set(incoming.map((e) => String(e.id))));
    setEvents((old) => {
      const known = new Set(old.map((e) => String(e.id)));
      const add = incoming.filter((e) => !known.has(String(e.id)));
      const next = [...add, ...old];
      if (next.length > MAX_ROWS) {
        const kept = next.slice(0, MAX_ROWS);
        setOlder(String(kept[kept.length - 1].id));
        return kept;
      }
      return next;
    });
  };

  useInterval(poll, 2000, live && !loading && !(error instanceof ApiError && error.status >= 400 && error.status < 500));

  const showOlder = async () => {
    if (!older) return;
    const mine = generation.current;
    try {
      const p = await api<Page<AccessEvent>>('/api/v1/events', { query: { ...query, limit: PAGE, cursor: older } });
      if (mine !== generation.current) return;
      setEvents((old) => {
        const known = new Set(old.map((e) => String(e.id)));
        return [...old, ...p.items.filter((e) => !known.has(String(e.id)))];
      });
      setOlder(p.next_cursor);
    } catch (e) {
      setError(e);
    }
  };

  const fields = error instanceof ApiError ? error.fields : {};
  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const csv = withQuery('/api/v1/events.csv', query);

  return (
    <>
      <div class="page-head">
        <h1>Events</h1>
        <a class="button secondary" href={csv} download="events.csv" data-testid="events-csv">
          Export CSV
        </a>
      </div>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
        data-testid="events-filters"
      >
        <SelectOrTextField
          id="filter-door"
          options={doors.data && [{ value: '', label: 'Any door' }, ...doors.data.map((d) => ({ value: d.external_id, label: doorName(d) }))]}
          label="Door"
          textLabel="Door (external id)"
          value={draft.door}
          onValue={set('door')}
          error={fields.door}
        />
        <TextField id="filter-user" label="Person (external id)" value={draft.user} onValue={set('user')} spellcheck={false} error={fields.user} />
        <SelectOrTextField
          id="filter-device"
          options={devices.data && [{ value: '', label: 'Any device' }, ...devices.data.map((d) => ({ value: d.name, label: d.name }))]}
          label="Device"
          textLabel="Device (name)"
          value={draft.device}
          onValue={set('device')}
          error={fields.device}
        />
        <SelectField
          id="filter-decision"
          label="Outcome"
          value={draft.decision}
          onValue={set('decision')}
          options={[
            { value: '', label: 'Granted or denied' },
            { value: 'grant', label: 'Granted' },
            { value: 'deny', label: 'Denied' },
          ]}
          error={fields.decision}
        />
        <TextField id="filter-reason" label="Reason" value={draft.reason} onValue={set('reason')} placeholder="e.g. unknown_face" spellcheck={false} error={fields.reason} />
        <TextField id="filter-from" label="From" type="datetime-local" value={draft.from} onValue={set('from')} error={fields.from} />
        <TextField id="filter-until" label="Until" type="datetime-local" value={draft.until} onValue={set('until')} error={fields.until} />
        <div class="filter-actions">
          <button type="submit" class="button primary" data-testid="events-apply">
            Apply
          </button>
          <button
            type="button"
            class="button secondary"
            onClick={() => {
              setDraft(NO_FILTERS);
              setFilters(NO_FILTERS);
            }}
            data-testid="events-clear"
          >
            Clear
          </button>
        </div>
      </form>
      <div class="live-bar">
        <Switch id="events-live" label="Live (every 2 s)" checked={live} onChecked={setLive} testid="events-live" />
        <span class="muted" data-testid="events-updated">
          {updated ? `Updated ${formatTime(updated.toISOString())}` : ''}
        </span>
      </div>
      <ErrorNote error={error} shownFields={['door', 'user', 'device', 'decision', 'reason', 'from', 'until']} testid="events-error" />
      {loading && <p role="status">Loading…</p>}
      {!loading && events.length === 0 && !error && (
        <p class="empty" data-testid="events-empty">
          No event{filters === NO_FILTERS ? ' yet' : ' matches these filters'}.
        </p>
      )}
      {events.length > 0 && (
        <DataTable
          testid="event-table"
          caption="Access events, newest first"
          columns={['Time', 'Outcome', 'Reason', 'Person', 'Door', 'Device', { label: 'Distance', numeric: true }, { label: 'Latency', numeric: true }]}
        >
          {events.map((e) => {
            const door = e.door_id !== null ? doorById.get(e.door_id) : undefined;
            const device = e.device_id !== null ? deviceById.get(e.device_id) : undefined;
            return (
              <tr
                key={String(e.id)}
                class={fresh.has(String(e.id)) ? 'row-new' : undefined}
                data-testid="event-row"
                data-event-id={String(e.id)}
              >
                <th scope="row">
                  <time dateTime={e.time}>{formatTime(e.time)}</time>
                </th>
                <td>
                  <Badge tone={e.decision === 'grant' ? 'ok' : 'bad'} text={e.decision === 'grant' ? 'Granted' : 'Denied'} testid="event-decision" />
                  {e.repeat && <span class="muted"> (repeat)</span>}
                </td>
                <td>
                  <code>{e.reason}</code>
                </td>
                <td>{e.user ? <a href={href('people', e.user)}>{e.user}</a> : <span class="muted">—</span>}</td>
                <td>{door ? door.external_id : e.door_id !== null ? `#${e.door_id}` : <span class="muted">—</span>}</td>
                <td>{device ? device.name : e.device_id !== null ? `#${e.device_id}` : <span class="muted">—</span>}</td>
                <td class="num">{e.distance !== null ? formatNumber(e.distance, 3) : '—'}</td>
                <td class="num">{formatNumber(e.latency_ms, 1)} ms</td>
              </tr>
            );
          })}
        </DataTable>
      )}
      {older && (
        <button type="button" class="button secondary" onClick={() => void showOlder()} data-testid="events-older">
          Show older events
        </button>
      )}
    </>
  );
}
