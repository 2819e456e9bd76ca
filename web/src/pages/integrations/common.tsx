// What every integration form shows: its status as the daemon reports it, the last error, the
// run-time details, the enabled switch and the save button.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from '../../api';
import { ErrorNote } from '../../components/ErrorNote';
import { StatusBadge } from '../../components/StatusBadge';
import { StatusNote } from '../../components/StatusNote';
import { Switch, TextField, type TextFieldProps } from '../../components/Field';
import { formatTime } from '../../format';
import { useFormRequest } from '../../hooks';
import type { Integration, IntegrationName } from '../../types';

export const INTEGRATION_TITLE: Record<IntegrationName, string> = {
  space: 'Salto Space',
  enrollment: 'Enrollment service',
  connect: 'Cloud link',
};

export type SaveIntegration = (enabled: boolean, settings: Record<string, unknown>) => Promise<Integration>;

export function StatusBlock({ integration }: { integration: Integration }) {
  const i = integration;
  return (
    <section class="status-block" aria-label="Status" data-testid={`integration-detail-status-${i.name}`}>
      <div class="status-line">
        <StatusBadge status={i.status} testid={`integration-form-status-${i.name}`} />
        <span class="muted">
          {i.enabled ? 'Enabled' : 'Disabled'}
          {i.status_changed_at && <> · status since {formatTime(i.status_changed_at)}</>}
        </span>
      </div>
      {i.last_error && (
        <p class="last-error" data-testid={`integration-form-error-${i.name}`}>
          <strong>Last error</strong>
          {i.last_error_at && <> ({formatTime(i.last_error_at)})</>}: {i.last_error}
        </p>
      )}
    </section>
  );
}

function isTimeKey(k: string): boolean {
  return k.endsWith('_at') || k === 'connected_since';
}

function label(k: string): string {
  const s = k.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function Value({ k, v }: { k: string; v: unknown }) {
  if (v === null || v === undefined) return <span class="muted">—</span>;
  if (typeof v === 'string' && isTimeKey(k)) return <>{formatTime(v)}</>;
  if (Array.isArray(v)) {
    if (v.length === 0) return <span class="muted">none</span>;
    return (
      <ul class="plain">
        {v.map((x, i) => (
          <li key={i}>{typeof x === 'object' ? JSON.stringify(x) : String(x)}</li>
        ))}
      </ul>
    );
  }
  if (typeof v === 'object') return <DetailsList details={v as Record<string, unknown>} nested />;
  if (typeof v === 'boolean') return <>{v ? 'yes' : 'no'}</>;
  return <>{String(v)}</>;
}

// The integration's `details` as the daemon reports them (sync counts, the link's counts).
export function DetailsList({ details, nested }: { details: Record<string, unknown>; nested?: boolean }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <dl class={nested ? 'details nested' : 'details'}>
      {entries.map(([k, v]) => (
        <div key={k} class="details-row">
          <dt>{label(k)}</dt>
          <dd>
            <Value k={k} v={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function DetailsSection({ integration }: { integration: Integration }) {
  if (!integration.details) return null;
  return (
    <details class="section" data-testid={`integration-details-${integration.name}`}>
      <summary>What the integration reports</summary>
      <DetailsList details={integration.details} />
    </details>
  );
}

export interface FormShellProps {
  integration: Integration;
  enabled: boolean;
  setEnabled: (v: boolean) => void;
  enabledError?: string;
  busy: boolean;
  error: unknown;
  shownFields: string[];
  saved: boolean;
  onSubmit: () => void;
  children: ComponentChildren;
  extra?: ComponentChildren;
}

export function FormShell(p: FormShellProps) {
  const name = p.integration.name;
  return (
    <section class="panel" aria-labelledby={`form-title-${name}`} data-testid={`integration-form-${name}`}>
      <h2 id={`form-title-${name}`}>{INTEGRATION_TITLE[name]}</h2>
      <p class="muted">{p.integration.description}</p>
      <StatusBlock integration={p.integration} />
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          p.onSubmit();
        }}
      >
        <Switch
          id={`${name}-enabled`}
          label="Enabled"
          checked={p.enabled}
          onChecked={p.setEnabled}
          error={p.enabledError}
          hint="Settings are checked by the server when the integration is enabled."
        />
        {p.children}
        <ErrorNote error={p.error} shownFields={p.shownFields} testid={`${name}-save-error`} />
        {p.saved && !p.error && <StatusNote testid={`${name}-saved`}>Saved.</StatusNote>}
        <div class="actions">
          <button type="submit" class="button primary" disabled={p.busy} data-testid={`${name}-save`}>
            {p.busy ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
      {p.extra}
      <DetailsSection integration={p.integration} />
    </section>
  );
}

// The state every integration form keeps: the Enabled switch, the problems the page found
// (`local`, by settings key) and the server's (`settings.*` of a refusal), the save in flight
// and whether it went through. `shell` is what FormShell takes of it.
export function useIntegrationForm(integration: Integration, save: SaveIntegration) {
  const [enabled, setEnabled] = useState(integration.enabled);
  const [saved, setSaved] = useState(false);
  const request = useFormRequest('settings.');

  // Shows the page's problems (and saves nothing) if there are any; otherwise saves the
  // settings and, once saved, calls onSaved (to forget secrets typed or files picked).
  const submit = async (problems: Record<string, string>, settings: () => Record<string, unknown>, onSaved?: () => void) => {
    setSaved(false);
    if (Object.keys(problems).length) request.setError(new Error('Some settings need attention (see the fields).'));
    await request.run(problems, async () => {
      await save(enabled, settings());
      onSaved?.();
      setSaved(true);
    });
  };

  const { error, busy } = request;
  const shell = {
    integration,
    enabled,
    setEnabled,
    enabledError: error instanceof ApiError ? error.fields.enabled : undefined,
    busy,
    error,
    saved,
  };
  return { enabled, local: request.local, setLocal: request.setLocal, problem: request.problem, submit, shell };
}

// The host name or address of a server this one calls: typed as it is (no spelling check, no
// autofill), marked required.
export function HostField(props: TextFieldProps) {
  return <TextField required spellcheck={false} autocomplete="off" {...props} />;
}

// Number settings: empty means "the default" (the key is removed).
export function numberSetting(v: string): number | null {
  const t = v.trim();
  if (!t) return null;
  return Number(t);
}

export function numberProblem(v: string, min: number, max: number): string | undefined {
  const t = v.trim();
  if (!t) return undefined;
  if (!/^\d+$/.test(t)) return 'expected a whole number';
  const n = Number(t);
  if (n < min || n > max) return `expected a whole number from ${min} to ${max}`;
  return undefined;
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}
