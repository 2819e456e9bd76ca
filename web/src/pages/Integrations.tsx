// Integrations: a card per configured integration with its status and last error; selecting
// one opens its settings; "Add integration" picks among those not configured yet.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Dialog, DialogActions } from '../components/Dialog';
import { ErrorNote } from '../components/ErrorNote';
import { Switch } from '../components/Field';
import { StatusBadge } from '../components/StatusBadge';
import { formatTime } from '../format';
import { useInterval, useLoad } from '../hooks';
import { href, navigate } from '../router';
import type { Integration, IntegrationName, Page } from '../types';
import { INTEGRATION_TITLE } from './integrations/common';
import { ConnectForm } from './integrations/ConnectForm';
import { EnrollmentForm } from './integrations/EnrollmentForm';
import { SpaceForm } from './integrations/SpaceForm';

const ORDER: IntegrationName[] = ['space', 'enrollment', 'connect'];

// Chosen in "Add integration" and not saved yet: kept while the console is open, so that
// visiting another page does not lose the card.
let addedSoFar: IntegrationName[] = [];

function isConfigured(i: Integration): boolean {
  return i.enabled || Object.keys(i.settings ?? {}).length > 0;
}

export function IntegrationsPage({ selected }: { selected?: string }) {
  const list = useLoad((signal) => api<Page<Integration>>('/api/v1/integrations', { signal }), []);
  // Chosen in "Add integration" but not saved yet: shown as cards all the same.
  const [added, setAddedState] = useState<IntegrationName[]>(addedSoFar);
  const setAdded = (f: (a: IntegrationName[]) => IntegrationName[]) =>
    setAddedState((a) => {
      addedSoFar = f(a);
      return addedSoFar;
    });
  const [adding, setAdding] = useState(false);

  // The status is the daemon's: refreshed while the page is open.
  useInterval(() => list.reload(), 5000);

  const items = [...(list.data?.items ?? [])].sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
  const shown = items.filter((i) => isConfigured(i) || added.includes(i.name) || i.name === selected);
  const available = items.filter((i) => !isConfigured(i) && !added.includes(i.name) && i.name !== selected);
  const current = items.find((i) => i.name === selected);

  const save = async (name: IntegrationName, enabled: boolean, settings: Record<string, unknown>) => {
    const updated = await api<Integration>(`/api/v1/integrations/${name}`, {
      method: 'PUT',
      json: { enabled, settings },
    });
    await list.reload();
    return updated;
  };

  return (
    <>
      <div class="page-head">
        <h1>Integrations</h1>
        <button
          type="button"
          class="button primary"
          onClick={() => setAdding(true)}
          data-testid="add-integration"
        >
          Add integration
        </button>
      </div>
      {list.error !== undefined && <ErrorNote error={list.error} testid="integrations-error" />}
      {list.loading && !list.data && <p role="status">Loading…</p>}
      {list.data && shown.length === 0 && (
        <p class="empty" data-testid="integrations-empty">
          No integration is configured yet. Use <strong>Add integration</strong> to connect Salto Space, the
          enrollment service or the cloud link.
        </p>
      )}
      <ul class="cards" aria-label="Configured integrations">
        {shown.map((i) => (
          <li key={i.name}>
            <IntegrationCard integration={i} selected={i.name === selected} />
          </li>
        ))}
      </ul>
      {current && (
        <div class="integration-form" key={current.name}>
          {current.name === 'space' && (
            <SpaceForm integration={current} save={(e, s) => save('space', e, s)} refresh={list.reload} />
          )}
          {current.name === 'enrollment' && (
            <EnrollmentForm integration={current} save={(e, s) => save('enrollment', e, s)} />
          )}
          {current.name === 'connect' && (
            <ConnectForm integration={current} save={(e, s) => save('connect', e, s)} />
          )}
        </div>
      )}
      {selected && list.data && !current && (
        <p class="note note-error" role="alert">
          There is no integration “{selected}”.
        </p>
      )}
      <AddIntegrationDialog
        open={adding}
        available={available}
        onClose={() => setAdding(false)}
        onContinue={(names) => {
          setAdding(false);
          setAdded((a) => [...a, ...names.filter((n) => !a.includes(n))]);
          if (names[0]) navigate('integrations', names[0]);
        }}
      />
    </>
  );
}

function IntegrationCard({ integration: i, selected }: { integration: Integration; selected: boolean }) {
  return (
    <article
      class={`card integration-card${selected ? ' selected' : ''}`}
      data-testid={`integration-card-${i.name}`}
      aria-labelledby={`card-title-${i.name}`}
    >
      <h2 id={`card-title-${i.name}`} class="card-title">
        <a
          href={href('integrations', i.name)}
          class="card-link"
          aria-current={selected ? 'true' : undefined}
          data-testid={`integration-open-${i.name}`}
        >
          {INTEGRATION_TITLE[i.name] ?? i.name}
        </a>
      </h2>
      <div class="card-status">
        <StatusBadge status={i.status} testid={`integration-status-${i.name}`} />
        <span class="muted">{i.enabled ? 'Enabled' : 'Disabled'}</span>
      </div>
      {i.last_error ? (
        <p class="card-error" data-testid={`integration-error-${i.name}`}>
          {i.last_error}
          {i.last_error_at && <span class="muted"> ({formatTime(i.last_error_at)})</span>}
        </p>
      ) : (
        <p class="muted card-error" data-testid={`integration-error-${i.name}`}>
          No error reported.
        </p>
      )}
    </article>
  );
}

function AddIntegrationDialog({
  open,
  available,
  onClose,
  onContinue,
}: {
  open: boolean;
  available: Integration[];
  onClose: () => void;
  onContinue: (names: IntegrationName[]) => void;
}) {
  const [chosen, setChosen] = useState<IntegrationName[]>([]);
  const close = () => {
    setChosen([]);
    onClose();
  };
  return (
    <Dialog open={open} title="Add integration" onClose={close} testid="add-integration-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const names = [...chosen].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
          setChosen([]);
          onContinue(names);
        }}
      >
        {available.length === 0 ? (
          <p data-testid="add-integration-none">Every integration is configured already.</p>
        ) : (
          <fieldset class="toggles">
            <legend>Choose the integrations to set up</legend>
            {available.map((i) => (
              <Switch
                key={i.name}
                id={`add-${i.name}`}
                label={INTEGRATION_TITLE[i.name] ?? i.name}
                hint={i.description}
                checked={chosen.includes(i.name)}
                onChecked={(on) =>
                  setChosen((c) => (on ? [...c.filter((n) => n !== i.name), i.name] : c.filter((n) => n !== i.name)))
                }
                testid={`add-integration-toggle-${i.name}`}
              />
            ))}
          </fieldset>
        )}
        <DialogActions onCancel={close} submitLabel="Continue" submitDisabled={chosen.length === 0} submitTestid="add-integration-continue" />
      </form>
    </Dialog>
  );
}
