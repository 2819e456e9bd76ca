// People: search, one person with their faces, enrolling a face from a photo (with the
// quality report, or why the photo was refused), deleting a face, erasing the person (GDPR).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ACTIONS_COLUMN, DataTable } from '../components/DataTable';
import { ErrorNote } from '../components/ErrorNote';
import { FileField } from '../components/Field';
import { Badge } from '../components/StatusBadge';
import { StatusNote } from '../components/StatusNote';
import { formatNumber, formatTime, personName } from '../format';
import { useLoad } from '../hooks';
import { href, navigate } from '../router';
import type { FaceEnrolled, Page, Quality, Template, User, UserDetail, UserErased } from '../types';

// Kept across visits of a person so that "back to the list" shows the same search.
let lastQuery = '';
let lastNotice: string | null = null;

export function PeoplePage({ personId }: { personId?: string }) {
  if (personId) return <PersonDetail externalId={personId} key={personId} />;
  return <PeopleList />;
}

function PeopleList() {
  const [query, setQuery] = useState(lastQuery);
  const [submitted, setSubmitted] = useState(lastQuery);
  const [items, setItems] = useState<User[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(false);
  const [notice] = useState(() => {
    const n = lastNotice;
    lastNotice = null;
    return n;
  });
  const seq = useRef(0);

  const load = async (q: string, after: string | null) => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const page = await api<Page<User>>('/api/v1/users', { query: { query: q, limit: 50, cursor: after } });
      if (mine !== seq.current) return;
      setItems((old) => (after ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(undefined);
    } catch (e) {
      if (mine === seq.current) setError(e);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };

  // Searching as one types, a moment after the last key.
  useEffect(() => {
    const t = window.setTimeout(() => {
      if (query !== submitted) setSubmitted(query);
    }, 300);
    return () => window.clearTimeout(t);
  }, [query]);

  useEffect(() => {
    lastQuery = submitted;
    void load(submitted, null);
  }, [submitted]);

  return (
    <>
      <div class="page-head">
        <h1>People</h1>
      </div>
      {notice && <StatusNote testid="people-notice">{notice}</StatusNote>}
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (query === submitted) void load(query, null);
          else setSubmitted(query);
        }}
      >
        <label for="people-search">Search people</label>
        <div class="input-with-button">
          <input
            id="people-search"
            type="search"
            value={query}
            placeholder="Name or external id"
            onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)}
            data-testid="people-search"
          />
          <button type="submit" class="button secondary" data-testid="people-search-submit">
            Search
          </button>
        </div>
      </form>
      <ErrorNote error={error} testid="people-error" />
      <p class="muted" role="status" aria-live="polite" data-testid="people-count">
        {loading ? 'Searching…' : `${items.length}${cursor ? '+' : ''} ${items.length === 1 ? 'person' : 'people'}${submitted ? ` matching “${submitted}”` : ''}`}
      </p>
      {items.length > 0 && (
        <DataTable testid="people-table" caption="People" columns={['Name', 'External id', 'State', 'Source', 'Valid until']}>
          {items.map((u) => (
            <tr key={u.id} data-testid="person-row" data-person={u.external_id}>
              <th scope="row">
                <a href={href('people', u.external_id)} data-testid="person-link">
                  {personName(u)}
                </a>
              </th>
              <td>
                <code>{u.external_id}</code>
              </td>
              <td>
                <UserState u={u} />
              </td>
              <td>{u.source === 'ship' ? 'Salto Space' : 'Local'}</td>
              <td>{u.valid_until ? formatTime(u.valid_until) : <span class="muted">—</span>}</td>
            </tr>
          ))}
        </DataTable>
      )}
      {cursor && (
        <button type="button" class="button secondary" onClick={() => void load(submitted, cursor)} disabled={loading} data-testid="people-more">
          Show more
        </button>
      )}
    </>
  );
}

function UserState({ u }: { u: User }) {
  if (u.banned) return <Badge tone="bad" text="Banned" />;
  if (!u.active) return <Badge tone="none" text="Inactive" />;
  return <Badge tone="ok" text="Active" />;
}

const REFUSAL_TEXT: Record<string, string> = {
  no_face: 'No face was found in the photo.',
  multiple_faces: 'There is more than one face in the photo: use a photo of this person alone.',
  face_too_small: 'The face is too small: the person is too far away, or the photo too small.',
  too_blurred: 'The photo is too blurred.',
  pose: 'The head is turned or tilted too far: the person should look at the camera.',
  too_dark: 'The face is too dark.',
  overexposed: 'The face is overexposed.',
  unsupported_format: 'The file is neither JPEG nor PNG.',
  corrupt_image: 'The image is damaged and cannot be read.',
  image_too_large: 'The image is too large.',
  empty_image: 'The file is empty.',
  duplicate_face: 'This face is already enrolled for another person.',
  busy: 'The face workers are busy: try again in a moment.',
};

const QUALITY_ROWS: { key: keyof Quality; label: string; digits: number; unit?: string }[] = [
  { key: 'detection_score', label: 'Detection score', digits: 2 },
  { key: 'interocular_px', label: 'Eye distance', digits: 1, unit: 'px' },
  { key: 'sharpness', label: 'Sharpness', digits: 1 },
  { key: 'yaw_deg', label: 'Yaw', digits: 1, unit: '°' },
  { key: 'pitch_deg', label: 'Pitch', digits: 1, unit: '°' },
  { key: 'roll_deg', label: 'Roll', digits: 1, unit: '°' },
  { key: 'brightness', label: 'Brightness (0–255)', digits: 1 },
  { key: 'brightness_p5', label: 'Brightness, 5th percentile', digits: 1 },
  { key: 'brightness_p95', label: 'Brightness, 95th percentile', digits: 1 },
  { key: 'saturated_fraction', label: 'Saturated pixels', digits: 3 },
];

export function QualityReport({ quality, testid = 'quality-report' }: { quality: Partial<Quality>; testid?: string }) {
  const rows = QUALITY_ROWS.filter((r) => typeof quality[r.key] === 'number');
  if (rows.length === 0) return <p class="muted">No quality measures.</p>;
  return (
    <table class="table compact" data-testid={testid}>
      <caption>Quality measured on the face</caption>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} data-quality={r.key}>
            <th scope="row">{r.label}</th>
            <td>
              {formatNumber(quality[r.key] as number, r.digits)}
              {r.unit ? ` ${r.unit}` : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type EnrollOutcome = { ok: FaceEnrolled } | { refused: ApiError } | null;

function PersonDetail({ externalId }: { externalId: string }) {
  const path = `/api/v1/users/${encodeURIComponent(externalId)}`;
  const user = useLoad((signal) => api<UserDetail>(path, { signal }), [externalId]);
  const faces = useLoad((signal) => api<Page<Template>>(`${path}/faces`, { signal }), [externalId]);
  const [photo, setPhoto] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [enrolling, setEnrolling] = useState(false);
  const [outcome, setOutcome] = useState<EnrollOutcome>(null);
  const [otherError, setOtherError] = useState<unknown>(undefined);
  const [deleting, setDeleting] = useState<Template | null>(null);
  const [erasing, setErasing] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [fileKey, setFileKey] = useState(0);

  useEffect(() => {
    if (!photo) {
      setPreview(null);
      return undefined;
    }
    const u = URL.createObjectURL(photo);
    setPreview(u);
    return () => URL.revokeObjectURL(u);
  }, [photo]);

  const enroll = async (e: Event) => {
    e.preventDefault();
    if (!photo) return;
    setEnrolling(true);
    setOutcome(null);
    setOtherError(undefined);
    setNotice(null);
    try {
      const type = photo.type === 'image/png' || /\.png$/i.test(photo.name) ? 'image/png' : 'image/jpeg';
      const r = await api<FaceEnrolled>(`${path}/faces`, { method: 'POST', body: photo, contentType: type });
      setOutcome({ ok: r });
      setPhoto(null);
      setFileKey((k) => k + 1);
      await Promise.all([faces.reload(), user.reload()]);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.code === 'duplicate_face' || err.status === 413 || err.status === 400)) {
        setOutcome({ refused: err });
      } else {
        setOtherError(err);
      }
    } finally {
      setEnrolling(false);
    }
  };

  const u = user.data;
  const faceList = faces.data?.items ?? [];
  const faceCount = faces.data ? faceList.length : (u?.faces ?? 0);

  if (user.error && !u) {
    return (
      <>
        <p>
          <a href={href('people')}>← People</a>
        </p>
        <ErrorNote error={user.error} testid="person-error" />
      </>
    );
  }
  if (!u) return <p role="status">Loading…</p>;

  return (
    <>
      <p class="back">
        <a href={href('people')} data-testid="person-back">
          ← People
        </a>
      </p>
      <div class="page-head">
        <h1 data-testid="person-name">{personName(u)}</h1>
        <button type="button" class="button danger" onClick={() => setErasing(true)} data-testid="person-erase">
          Erase person…
        </button>
      </div>
      {notice && <StatusNote testid="person-notice">{notice}</StatusNote>}
      <section class="panel" aria-labelledby="person-record">
        <h2 id="person-record">Record</h2>
        <dl class="details" data-testid="person-detail">
          <div class="details-row">
            <dt>External id</dt>
            <dd>
              <code data-testid="person-external-id">{u.external_id}</code>
            </dd>
          </div>
          <div class="details-row">
            <dt>State</dt>
            <dd>
              <UserState u={u} />
            </dd>
          </div>
          <div class="details-row">
            <dt>Source</dt>
            <dd>{u.source === 'ship' ? 'Salto Space (change the record there)' : 'Local'}</dd>
          </div>
          <div class="details-row">
            <dt>Valid</dt>
            <dd>
              {u.valid_from ? `from ${formatTime(u.valid_from)}` : 'from any time'}
              {' · '}
              {u.valid_until ? `until ${formatTime(u.valid_until)}` : 'no end'}
            </dd>
          </div>
          <div class="details-row">
            <dt>Groups</dt>
            <dd>{u.groups.length ? u.groups.join(', ') : <span class="muted">none</span>}</dd>
          </div>
          <div class="details-row">
            <dt>Faces</dt>
            <dd data-testid="person-face-count">{faceCount}</dd>
          </div>
        </dl>
      </section>

      <section class="panel" aria-labelledby="person-faces">
        <h2 id="person-faces">Faces</h2>
        <ErrorNote error={faces.error} testid="faces-error" />
        {faces.data && faceList.length === 0 && <p class="muted" data-testid="faces-empty">No face enrolled.</p>}
        {faceList.length > 0 && (
          <DataTable
            testid="face-table"
            caption="Enrolled faces"
            columns={['Enrolled', 'From', 'Sharpness', 'Eye distance', 'Photo kept', ACTIONS_COLUMN]}
          >
            {faceList.map((f) => (
              <tr key={String(f.id)} data-testid="face-row" data-face-id={String(f.id)}>
                <th scope="row">{formatTime(f.created_at)}</th>
                <td>{f.source === 'admin' ? 'console / API' : f.source === 'import' ? 'bulk import' : 'self-enrollment'}</td>
                <td>{formatNumber(f.quality?.sharpness, 1)}</td>
                <td>{f.quality?.interocular_px !== undefined ? `${formatNumber(f.quality.interocular_px, 1)} px` : '—'}</td>
                <td>{f.photo ? 'yes' : 'no'}</td>
                <td class="row-actions">
                  <button type="button" class="button small danger-outline" onClick={() => setDeleting(f)} data-testid="face-delete">
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
        )}

        <form class="enroll" onSubmit={enroll} aria-labelledby="enroll-title">
          <h3 id="enroll-title">Enroll a face</h3>
          <div class="enroll-row">
            <FileField
              key={fileKey}
              id="enroll-photo"
              label="Photo (JPEG or PNG)"
              accept="image/jpeg,image/png"
              onFile={(f) => {
                setPhoto(f);
                setOutcome(null);
              }}
              hint="One person, looking at the camera, in even light. The photo is not stored unless the server keeps photos."
              disabled={enrolling}
            />
            {preview && <img class="preview" src={preview} alt="The chosen photo" data-testid="enroll-preview" />}
          </div>
          <div class="actions">
            <button type="submit" class="button primary" disabled={!photo || enrolling} data-testid="enroll-submit">
              {enrolling ? 'Enrolling…' : 'Enroll face'}
            </button>
          </div>
        </form>
        <div aria-live="polite">
          {outcome && 'ok' in outcome && (
            <div class="note note-ok" data-testid="enroll-result">
              <p>
                <strong>Enrolled.</strong> The face was added
                {outcome.ok.timings_ms ? ` (${formatNumber(outcome.ok.timings_ms.total, 0)} ms)` : ''}.
              </p>
              {outcome.ok.duplicate_of && (
                <p data-testid="enroll-duplicate-of">
                  Flagged: it matches <a href={href('people', outcome.ok.duplicate_of)}>{outcome.ok.duplicate_of}</a>.
                </p>
              )}
              <QualityReport quality={outcome.ok.quality} />
            </div>
          )}
          {outcome && 'refused' in outcome && <Refusal error={outcome.refused} />}
        </div>
        <ErrorNote error={otherError} testid="enroll-error" />
      </section>

      <ConfirmDialog
        open={deleting !== null}
        title="Delete this face?"
        confirmLabel="Delete the face"
        danger
        testid="face-delete-dialog"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (!deleting) return;
          await api(`/api/v1/faces/${encodeURIComponent(String(deleting.id))}`, { method: 'DELETE' });
          setNotice('The face was deleted.');
          await Promise.all([faces.reload(), user.reload()]);
        }}
      >
        {deleting && (
          <p>
            The face of <strong>{personName(u)}</strong> enrolled {formatTime(deleting.created_at)} is deleted
            {deleting.photo ? ', with its kept photo' : ''}. They are no longer recognised by it.
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={erasing}
        title={`Erase ${personName(u)}?`}
        confirmLabel="Erase for good"
        danger
        testid="person-erase-dialog"
        onClose={() => setErasing(false)}
        onConfirm={async () => {
          const r = await api<UserErased>(path, { method: 'DELETE' });
          lastNotice = `${personName(u)} (${r.external_id}) was erased: ${r.templates_deleted} face${r.templates_deleted === 1 ? '' : 's'}${r.photos_deleted ? ` and ${r.photos_deleted} photo${r.photos_deleted === 1 ? '' : 's'}` : ''} deleted.`;
          navigate('people');
        }}
      >
        <p data-testid="person-erase-summary">
          <strong>{personName(u)}</strong> (external id <code>{u.external_id}</code>) and{' '}
          <strong>
            {faceCount} face{faceCount === 1 ? '' : 's'}
          </strong>{' '}
          are deleted for good, with their rights, group memberships and any kept photos. Access events keep the
          external id until their retention ends.
        </p>
        {u.source === 'ship' && (
          <p class="note note-warn">This person comes from Salto Space: erase them there (the server refuses it here).</p>
        )}
      </ConfirmDialog>
    </>
  );
}

function Refusal({ error }: { error: ApiError }) {
  const b = error.body;
  const quality = b.quality && typeof b.quality === 'object' ? (b.quality as Partial<Quality>) : null;
  const other = typeof b.other_user === 'string' ? b.other_user : null;
  const faces = typeof b.faces === 'number' ? b.faces : null;
  return (
    <div class="note note-error" role="alert" data-testid="enroll-refusal" data-reason={error.code}>
      <p>
        <strong>Refused: {REFUSAL_TEXT[error.code] ?? error.code}</strong>
      </p>
      <p data-testid="enroll-refusal-message">
        The server says: {error.message} (<code>{error.code}</code>
        {faces !== null ? `, ${faces} face${faces === 1 ? '' : 's'} found` : ''})
      </p>
      {other && (
        <p>
          Enrolled for <a href={href('people', other)}>{other}</a>.
        </p>
      )}
      {quality && <QualityReport quality={quality} testid="refusal-quality-report" />}
    </div>
  );
}
