// Salto Space over SHIP: the server Facegate calls (settings.url, composed here from protocol,
// host, port and path), how its certificate is checked (pin_sha256 or ca_file), the SHIP API
// key (reset here, shown once) and what to enter on the Space side (docs/ship.md).
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { CopyButton } from '../../components/CopyButton';
import { ErrorNote } from '../../components/ErrorNote';
import { Field, SelectField, TextField } from '../../components/Field';
import { StatusNote } from '../../components/StatusNote';
import type { Integration } from '../../types';
import { FormShell, HostField, numberProblem, numberSetting, type SaveIntegration, str, useIntegrationForm } from './common';

type Protocol = 'https' | 'stp+tls' | 'stp';

interface ParsedUrl {
  protocol: Protocol;
  host: string;
  port: string;
  path: string;
  unreadable?: string;
}

export function parseSpaceUrl(url: string): ParsedUrl {
  const empty: ParsedUrl = { protocol: 'https', host: '', port: '8100', path: '' };
  if (!url) return empty;
  const m = /^(https|stp\+tls|stp):\/\/(\[[^\]]+\]|[^:/?#]+)(?::(\d*))?(\/[^?#]*)?$/i.exec(url.trim());
  if (!m) return { ...empty, unreadable: url };
  return {
    protocol: m[1].toLowerCase() as Protocol,
    host: m[2],
    port: m[3] || '8100',
    path: m[1].toLowerCase() === 'https' ? (m[4] ?? '') : '',
  };
}

export function composeSpaceUrl(p: { protocol: Protocol; host: string; port: string; path: string }): string {
  const host = p.host.trim();
  if (!host) return '';
  const port = p.port.trim();
  const path = p.protocol === 'https' ? p.path.trim() : '';
  return `${p.protocol}://${host}${port ? ':' + port : ''}${path && !path.startsWith('/') ? '/' + path : path}`;
}

function pinProblem(pin: string): string | undefined {
  const hex = pin.replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return 'expected the SHA-256 fingerprint: 64 hex digits (AA:BB:… or without colons)';
  return undefined;
}

export function SpaceForm({ integration, save, refresh }: { integration: Integration; save: SaveIntegration; refresh: () => Promise<void> }) {
  const s = integration.settings;
  const parsed = parseSpaceUrl(str(s.url));
  const form = useIntegrationForm(integration, save);
  const { enabled, local, problem } = form;
  const [protocol, setProtocol] = useState<Protocol>(parsed.protocol);
  const [host, setHost] = useState(parsed.host);
  const [port, setPort] = useState(parsed.port);
  const [path, setPath] = useState(parsed.path);
  const [auth, setAuth] = useState(str(s.auth) || 'key');
  const [apiKey, setApiKey] = useState('');
  const [basicUser, setBasicUser] = useState(str(s.basic_user));
  const [basicPassword, setBasicPassword] = useState('');
  const [verify, setVerify] = useState<'pin' | 'ca'>(str(s.ca_file) && !str(s.pin_sha256) ? 'ca' : 'pin');
  const [pin, setPin] = useState(str(s.pin_sha256));
  const [caFile, setCaFile] = useState(str(s.ca_file));
  const [syncInterval, setSyncInterval] = useState(str(s.sync_interval_s));
  const [probeInterval, setProbeInterval] = useState(str(s.probe_interval_s));
  const [requestTimeout, setRequestTimeout] = useState(str(s.request_timeout_ms));
  const [doorOpenTimeout, setDoorOpenTimeout] = useState(str(s.door_open_timeout_ms));
  const [removedUsers, setRemovedUsers] = useState(str(s.removed_users) || 'erase');
  // The new SHIP key: shown once, kept only while this form is open.
  const [newKey, setNewKey] = useState<string | null>(null);
  const [confirmReset, setConfirmReset] = useState(false);
  const [syncNote, setSyncNote] = useState<string | null>(null);
  const [syncError, setSyncError] = useState<unknown>(undefined);

  const tls = protocol !== 'stp';
  const url = composeSpaceUrl({ protocol, host, port, path });
  const keySet = s.api_key === '(set)';

  const submit = () => {
    const l: Record<string, string> = {};
    if (enabled && !host.trim()) l.url = 'required: the Space server’s host name or address';
    if (/[\s/]/.test(host.trim())) l.url = 'a host name or address, without a protocol or path';
    if (port.trim() && (!/^\d+$/.test(port.trim()) || +port < 1 || +port > 65535)) l.port = 'expected a port from 1 to 65535';
    if (tls && verify === 'pin' && (pin.trim() || enabled)) {
      const p = pinProblem(pin);
      if (p) l.pin_sha256 = p;
    }
    if (tls && verify === 'ca' && enabled && !caFile.trim()) l.ca_file = 'required: a CA file on this server';
    if (auth === 'basic' && enabled && !basicUser.trim()) l.basic_user = 'required for basic authentication';
    const nums: [string, string, number, number][] = [
      ['sync_interval_s', syncInterval, 1, 86400],
      ['probe_interval_s', probeInterval, 1, 3600],
      ['request_timeout_ms', requestTimeout, 100, 600000],
      ['door_open_timeout_ms', doorOpenTimeout, 50, 1900],
    ];
    for (const [k, v, min, max] of nums) {
      const p = numberProblem(v, min, max);
      if (p) l[k] = p;
    }
    const settings = () => {
      const out: Record<string, unknown> = { url: url || null, auth };
      if (apiKey) out.api_key = apiKey;
      if (auth === 'basic') {
        out.basic_user = basicUser.trim() || null;
        if (basicPassword) out.basic_password = basicPassword;
      }
      if (tls) {
        if (verify === 'pin') {
          out.pin_sha256 = pin.trim() || null;
          out.ca_file = null;
        } else {
          out.ca_file = caFile.trim() || null;
          out.pin_sha256 = null;
        }
      }
      for (const [k, v] of nums) out[k] = numberSetting(v);
      out.removed_users = removedUsers === 'erase' ? null : removedUsers;
      return out;
    };
    void form.submit(l, settings, () => {
      setApiKey('');
      setBasicPassword('');
    });
  };

  const resetKey = async () => {
    const r = await api<{ api_key: string; shown_once: boolean; message: string }>(
      '/api/v1/integrations/space/reset-key',
      { method: 'POST' },
    );
    setNewKey(r.api_key);
    setApiKey('');
    // The integration shows api_key "(set)" from now on.
    await refresh().catch(() => undefined);
  };

  const syncNow = async () => {
    setSyncNote(null);
    setSyncError(undefined);
    try {
      const r = await api<{ requested: boolean; message: string }>('/api/v1/integrations/space/sync', { method: 'POST' });
      setSyncNote(r.message || 'A full sync starts now.');
    } catch (e) {
      setSyncError(e);
    }
  };

  const shown = [
    'settings.url', 'settings.auth', 'settings.api_key', 'settings.basic_user', 'settings.basic_password',
    'settings.pin_sha256', 'settings.ca_file', 'settings.sync_interval_s', 'settings.probe_interval_s',
    'settings.request_timeout_ms', 'settings.door_open_timeout_ms', 'settings.removed_users', 'enabled',
  ];

  const origin = window.location;
  const facegatePort = origin.port || (origin.protocol === 'https:' ? '443' : '80');

  return (
    <FormShell
      {...form.shell}
      shownFields={shown}
      onSubmit={submit}
      extra={
        <>
          <ConfirmDialog
            open={confirmReset}
            title="Make a new SHIP API key?"
            confirmLabel="Make a new key"
            danger
            onConfirm={resetKey}
            onClose={() => setConfirmReset(false)}
            testid="ship-key-reset-dialog"
          >
            <p>
              The current key stops working at once, for Facegate’s calls to Space and for Space’s calls to Facegate,
              until the new key is entered in Salto Space. The new key is shown once.
            </p>
          </ConfirmDialog>
          <section class="section" aria-labelledby="space-side-title" data-testid="space-settings-for-space">
            <h3 id="space-side-title">Settings for Space</h3>
            <p class="muted">
              Enter these in Salto Space (SHIP settings) so that Space can call Facegate. The address is the one this
              page was opened at: if that is 127.0.0.1 or a tunnel, enter an address of this server that Space reaches
              (the admin listener, <code>listeners.admin</code>).
            </p>
            <dl class="copy-list">
              <CopyRow id="space-side-address" label="Facegate’s address" value={origin.hostname} />
              <CopyRow id="space-side-port" label="Port" value={facegatePort} />
              <CopyRow id="space-side-path" label="Path" value="/api/v1/ship" />
              <CopyRow id="space-side-url" label="Whole URL" value={`${origin.protocol}//${origin.host}/api/v1/ship`} />
              <CopyRow id="space-side-header" label="Authentication" value="Salto-SHIP-Key" hint="a custom header carrying the key" />
              <div class="copy-row">
                <dt>Key</dt>
                <dd>
                  {newKey ? (
                    <>
                      <code id="space-side-key" class="secret">{newKey}</code>
                      <CopyButton text={newKey} targetId="space-side-key" testid="space-side-key-copy" />
                    </>
                  ) : (
                    <span class="muted" data-testid="space-side-key">
                      {keySet ? 'Set; it is shown only once, when it is made. Use “New key” to make another.' : 'Not set yet: use “New key”.'}
                    </span>
                  )}
                </dd>
              </div>
            </dl>
          </section>
          <section class="section" aria-labelledby="space-sync-title">
            <h3 id="space-sync-title">Sync</h3>
            <p class="muted">A full sync reads users, doors, groups, schedules and rights from Space.</p>
            <button type="button" class="button secondary" onClick={syncNow} data-testid="space-sync">
              Sync now
            </button>
            {syncNote && <StatusNote testid="space-sync-result">{syncNote}</StatusNote>}
            <ErrorNote error={syncError} testid="space-sync-error" />
          </section>
        </>
      }
    >
      <fieldset>
        <legend>Space server</legend>
        <SelectField
          id="space-protocol"
          label="Protocol"
          value={protocol}
          onValue={(v) => setProtocol(v as Protocol)}
          options={[
            { value: 'https', label: 'HTTPS' },
            { value: 'stp+tls', label: 'STP over TLS' },
            { value: 'stp', label: 'STP, plain TCP (not encrypted)' },
          ]}
        />
        <div class="row">
          <HostField
            id="space-host"
            label="Host"
            value={host}
            onValue={setHost}
            placeholder="space.example.local or 10.0.0.20"
            error={problem('url')}
            hint={parsed.unreadable ? `The stored URL ${parsed.unreadable} could not be read: enter the server again.` : undefined}
          />
          <TextField
            id="space-port"
            label="Port"
            value={port}
            onValue={setPort}
            inputMode="numeric"
            class="narrow"
            error={local.port}
          />
        </div>
        {protocol === 'https' && (
          <TextField id="space-path" label="Path" value={path} onValue={setPath} placeholder="/" hint="Usually empty." />
        )}
        <p class="hint" data-testid="space-url-preview">
          Sent as <code>settings.url</code>: <code>{url || '(none)'}</code>
        </p>
      </fieldset>

      {tls && (
        <fieldset>
          <legend>Space’s certificate</legend>
          <div class="radios" role="radiogroup" aria-label="How the certificate is checked">
            <label>
              <input type="radio" name="space-verify" value="pin" checked={verify === 'pin'} onChange={() => setVerify('pin')} data-testid="space-verify-pin" />
              Pin its SHA-256 fingerprint (self-signed servers)
            </label>
            <label>
              <input type="radio" name="space-verify" value="ca" checked={verify === 'ca'} onChange={() => setVerify('ca')} data-testid="space-verify-ca" />
              Check it against a CA file on this server
            </label>
          </div>
          {verify === 'pin' ? (
            <TextField
              id="space-pin"
              label="Certificate pin (SHA-256)"
              value={pin}
              onValue={setPin}
              spellcheck={false}
              autocomplete="off"
              placeholder="AA:BB:CC:…"
              class="long"
              error={problem('pin_sha256')}
              hint="A mismatch is reported with the fingerprint the server showed: check it on the Space server before pinning it."
            />
          ) : (
            <TextField
              id="space-ca-file"
              label="CA file (a path on this server)"
              value={caFile}
              onValue={setCaFile}
              spellcheck={false}
              placeholder="/etc/facegate/space-ca.pem"
              error={problem('ca_file')}
            />
          )}
        </fieldset>
      )}

      <fieldset>
        <legend>Authentication</legend>
        <SelectField
          id="space-auth"
          label="How Facegate authenticates to Space"
          value={auth}
          onValue={setAuth}
          error={problem('auth')}
          options={[
            { value: 'key', label: 'SHIP API key (Salto-SHIP-Key)' },
            { value: 'basic', label: 'User name and password (basic)' },
          ]}
        />
        <Field
          id="space-api-key"
          label="SHIP API key"
          error={problem('api_key')}
          hint={
            keySet
              ? 'A key is set (never shown again). Type a key to replace it, or make a new one.'
              : 'No key yet. Type the key Space uses, or make a new one.'
          }
        >
          <div class="input-with-button">
            <input
              id="space-api-key"
              type="password"
              autocomplete="new-password"
              spellcheck={false}
              value={apiKey}
              placeholder={keySet ? '••••••••••••  (set)' : ''}
              onInput={(e) => setApiKey((e.currentTarget as HTMLInputElement).value)}
              aria-describedby="space-api-key-hint"
              data-testid="ship-key"
            />
            <button
              type="button"
              class="button secondary"
              onClick={() => setConfirmReset(true)}
              aria-label="New key: make a new SHIP API key"
              title="Make a new SHIP API key"
              data-testid="ship-key-reset"
            >
              <span aria-hidden="true">⟳ </span>New key
            </button>
          </div>
        </Field>
        {newKey && (
          <div class="note note-warn new-secret" role="status" data-testid="ship-key-new-box">
            <p>
              <strong>The new SHIP API key.</strong> Copy it now and enter it in Salto Space: it is not shown again
              after you leave this page.
            </p>
            <div class="secret-row">
              <code id="ship-key-new-value" class="secret" data-testid="ship-key-new">
                {newKey}
              </code>
              <CopyButton text={newKey} targetId="ship-key-new-value" testid="ship-key-copy" />
            </div>
          </div>
        )}
        {auth === 'basic' && (
          <div class="row">
            <TextField id="space-basic-user" label="User name" value={basicUser} onValue={setBasicUser} autocomplete="off" error={problem('basic_user')} />
            <TextField
              id="space-basic-password"
              label="Password"
              type="password"
              autocomplete="new-password"
              value={basicPassword}
              onValue={setBasicPassword}
              placeholder={s.basic_password === '(set)' ? '••••••••  (set)' : ''}
              hint={s.basic_password === '(set)' ? 'Set; leave empty to keep it.' : undefined}
              error={problem('basic_password')}
            />
          </div>
        )}
      </fieldset>

      <details class="section">
        <summary>Timing and removed users</summary>
        <div class="grid-fields">
          <TextField id="space-sync-interval" label="Full sync every (s)" value={syncInterval} onValue={setSyncInterval} inputMode="numeric" placeholder="300" error={problem('sync_interval_s')} />
          <TextField id="space-probe-interval" label="Health probe every (s)" value={probeInterval} onValue={setProbeInterval} inputMode="numeric" placeholder="30" error={problem('probe_interval_s')} />
          <TextField id="space-request-timeout" label="Request timeout (ms)" value={requestTimeout} onValue={setRequestTimeout} inputMode="numeric" placeholder="10000" error={problem('request_timeout_ms')} />
          <TextField id="space-door-open-timeout" label="Door opening timeout (ms)" value={doorOpenTimeout} onValue={setDoorOpenTimeout} inputMode="numeric" placeholder="1000" error={problem('door_open_timeout_ms')} />
          <SelectField
            id="space-removed-users"
            label="A user removed from Space"
            value={removedUsers}
            onValue={setRemovedUsers}
            error={problem('removed_users')}
            options={[
              { value: 'erase', label: 'is erased (with faces and photos)' },
              { value: 'keep', label: 'is kept inactive (faces kept)' },
            ]}
          />
        </div>
      </details>
    </FormShell>
  );
}

function CopyRow({ id, label, value, hint }: { id: string; label: string; value: string; hint?: string }) {
  return (
    <div class="copy-row">
      <dt>{label}</dt>
      <dd>
        <code id={id} data-testid={id}>
          {value}
        </code>
        <CopyButton text={value} targetId={id} testid={`${id}-copy`} />
        {hint && <span class="muted"> {hint}</span>}
      </dd>
    </div>
  );
}
