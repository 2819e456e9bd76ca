// Door terminals: their state, adding one (its commissioning code and QR code), a new code,
// commands for the next heartbeat, disabling, revoking and deleting.
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { Dialog } from '../components/Dialog';
import { ErrorNote } from '../components/ErrorNote';
import { Field, SelectField, TextField } from '../components/Field';
import { QrCode } from '../components/QrCode';
import { Badge } from '../components/StatusBadge';
import { formatAgo, formatTime } from '../format';
import { useInterval, useLoad } from '../hooks';
import {
  type CommissioningCode,
  type Device,
  DEVICE_COMMANDS,
  type DeviceCode,
  type DeviceCommandQueued,
  type DeviceCreated,
  type Door,
  type Page,
} from '../types';

// Every page of a list (bounded: 50 pages of 1000).
export async function listAll<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const page: Page<T> = await api<Page<T>>(path, { query: { limit: 1000, cursor }, signal });
    out.push(...page.items);
    if (!page.next_cursor || page.items.length === 0) break;
    cursor = page.next_cursor;
  }
  return out;
}

const STATUS_TEXT: Record<Device['status'], string> = {
  created: 'Not commissioned',
  commissioned: 'Commissioned',
  disabled: 'Disabled',
  decommissioned: 'Revoked',
};

const COMMAND_TEXT: Record<(typeof DEVICE_COMMANDS)[number], string> = {
  reboot: 'reboot: restart the terminal',
  recommission: 'recommission: enter commissioning mode',
  decommission: 'decommission: forget its certificate',
  config: 'config: apply a configuration (payload)',
  open: 'open: open the door',
  update: 'update: install firmware (payload)',
  identify: 'identify: blink or beep to be found',
  sync_time: 'sync_time: set its clock',
};

type Pending =
  | { kind: 'code'; device: string; code: CommissioningCode }
  | { kind: 'command'; device: Device }
  | { kind: 'decommission'; device: Device }
  | { kind: 'delete'; device: Device }
  | null;

export function DevicesPage() {
  const devices = useLoad((signal) => listAll<Device>('/api/v1/devices', signal), []);
  const doors = useLoad((signal) => listAll<Door>('/api/v1/doors', signal), []);
  const [adding, setAdding] = useState(false);
  const [pending, setPending] = useState<Pending>(null);
  const [rowError, setRowError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  useInterval(() => devices.reload(), 10000);

  const newCode = async (d: Device) => {
    setRowError(undefined);
    try {
      const c = await api<DeviceCode>(`/api/v1/devices/${encodeURIComponent(d.name)}/code`, { method: 'POST' });
      setPending({ kind: 'code', device: d.name, code: c });
    } catch (e) {
      setRowError(e);
    }
  };

  const setEnabled = async (d: Device, enabled: boolean) => {
    setRowError(undefined);
    setNotice(null);
    try {
      await api<Device>(`/api/v1/devices/${encodeURIComponent(d.name)}`, { method: 'PATCH', json: { enabled } });
      setNotice(`${d.name} ${enabled ? 'enabled' : 'disabled'}.`);
      await devices.reload();
    } catch (e) {
      setRowError(e);
    }
  };

  const list = devices.data ?? [];
  return (
    <>
      <div class="page-head">
        <h1>Devices</h1>
        <button type="button" class="button primary" onClick={() => setAdding(true)} data-testid="add-device">
          Add device
        </button>
      </div>
      <ErrorNote error={devices.error} testid="devices-error" />
      <ErrorNote error={rowError} testid="device-action-error" />
      {notice && (
        <p class="note note-ok" role="status" data-testid="device-notice">
          {notice}
        </p>
      )}
      {devices.loading && !devices.data && <p role="status">Loading…</p>}
      {devices.data && list.length === 0 && (
        <p class="empty" data-testid="devices-empty">
          No terminal yet. Use <strong>Add device</strong> to register one and commission it with its code.
        </p>
      )}
      {list.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="device-table">
            <caption class="visually-hidden">Door terminals</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Online</th>
                <th scope="col">Status</th>
                <th scope="col">Door</th>
                <th scope="col">Firmware</th>
                <th scope="col">Last seen</th>
                <th scope="col">Certificate until</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => (
                <tr key={d.id} data-testid="device-row" data-device={d.name}>
                  <th scope="row" class="nowrap" data-testid="device-name">
                    {d.name}
                  </th>
                  <td>
                    <Badge tone={d.online ? 'ok' : 'none'} text={d.online ? 'Online' : 'Offline'} testid="device-online" />
                  </td>
                  <td data-testid="device-status">{STATUS_TEXT[d.status] ?? d.status}</td>
                  <td class="nowrap" data-testid="device-door">{d.door ?? <span class="muted">no door</span>}</td>
                  <td data-testid="device-firmware">{d.firmware || <span class="muted">—</span>}</td>
                  <td data-testid="device-last-seen">
                    {d.last_seen_at ? <time dateTime={d.last_seen_at} title={formatTime(d.last_seen_at)}>{formatAgo(d.last_seen_at)}</time> : <span class="muted">never</span>}
                  </td>
                  <td>{d.certificate?.not_after ? formatTime(d.certificate.not_after) : <span class="muted">—</span>}</td>
                  <td class="row-actions">
                    <div class="action-group">
                    <button type="button" class="button small secondary" onClick={() => setPending({ kind: 'command', device: d })} data-testid="device-command">
                      Command…
                    </button>
                    <button type="button" class="button small secondary" onClick={() => void newCode(d)} disabled={d.status === 'disabled'} data-testid="device-new-code">
                      New code
                    </button>
                    <button type="button" class="button small secondary" onClick={() => void setEnabled(d, d.status === 'disabled')} data-testid="device-toggle">
                      {d.status === 'disabled' ? 'Enable' : 'Disable'}
                    </button>
                    <button
                      type="button"
                      class="button small danger-outline"
                      onClick={() => setPending({ kind: 'decommission', device: d })}
                      disabled={d.status === 'decommissioned'}
                      data-testid="device-revoke"
                    >
                      Revoke
                    </button>
                    <button type="button" class="button small danger-outline" onClick={() => setPending({ kind: 'delete', device: d })} data-testid="device-delete">
                      Delete
                    </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <AddDeviceDialog
        open={adding}
        doors={doors.data}
        doorsError={doors.error}
        onClose={() => setAdding(false)}
        onCreated={(created) => {
          setAdding(false);
          setPending({ kind: 'code', device: created.device.name, code: created.commissioning });
          void devices.reload();
        }}
      />
      <Dialog
        open={pending?.kind === 'code'}
        title={pending?.kind === 'code' ? `Commission ${pending.device}` : 'Commission'}
        onClose={() => setPending(null)}
        testid="device-code-dialog"
        wide
      >
        {pending?.kind === 'code' && <CommissioningView code={pending.code} onDone={() => setPending(null)} />}
      </Dialog>
      <CommandDialog
        device={pending?.kind === 'command' ? pending.device : null}
        onClose={() => setPending(null)}
      />
      <ConfirmDialog
        open={pending?.kind === 'decommission'}
        title={pending?.kind === 'decommission' ? `Revoke ${pending.device.name}?` : 'Revoke?'}
        confirmLabel="Revoke its certificates"
        danger
        testid="device-revoke-dialog"
        onClose={() => setPending(null)}
        onConfirm={async () => {
          if (pending?.kind !== 'decommission') return;
          const r = await api<{ certificates_revoked: number }>(
            `/api/v1/devices/${encodeURIComponent(pending.device.name)}/decommission`,
            { method: 'POST' },
          );
          setNotice(`${pending.device.name} revoked (${r.certificates_revoked} certificate${r.certificates_revoked === 1 ? '' : 's'}).`);
          await devices.reload();
        }}
      >
        {pending?.kind === 'decommission' && (
          <p>
            The certificates of <strong>{pending.device.name}</strong>
            {pending.device.door ? <> (door {pending.device.door})</> : null} are revoked: the terminal is refused from
            then on. To use it again, make a new code and commission it.
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={pending?.kind === 'delete'}
        title={pending?.kind === 'delete' ? `Delete ${pending.device.name}?` : 'Delete?'}
        confirmLabel="Delete the device"
        danger
        testid="device-delete-dialog"
        onClose={() => setPending(null)}
        onConfirm={async () => {
          if (pending?.kind !== 'delete') return;
          await api(`/api/v1/devices/${encodeURIComponent(pending.device.name)}`, { method: 'DELETE' });
          setNotice(`${pending.device.name} deleted.`);
          await devices.reload();
        }}
      >
        {pending?.kind === 'delete' && (
          <p>
            The terminal <strong>{pending.device.name}</strong> is removed from Facegate. Its access events stay.
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}

function AddDeviceDialog({
  open,
  doors,
  doorsError,
  onClose,
  onCreated,
}: {
  open: boolean;
  doors: Door[] | undefined;
  doorsError: unknown;
  onClose: () => void;
  onCreated: (d: DeviceCreated) => void;
}) {
  const [name, setName] = useState('');
  const [door, setDoor] = useState('');
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const fields = error instanceof ApiError ? error.fields : {};

  const close = () => {
    if (busy) return;
    setName('');
    setDoor('');
    setLocal({});
    setError(undefined);
    onClose();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const l: Record<string, string> = {};
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name.trim())) l.name = '1 to 64 characters of A-Z a-z 0-9 . _ -';
    setLocal(l);
    if (Object.keys(l).length) return;
    setBusy(true);
    setError(undefined);
    try {
      const created = await api<DeviceCreated>('/api/v1/devices', {
        method: 'POST',
        json: { name: name.trim(), door: door.trim() || null },
      });
      setBusy(false);
      setName('');
      setDoor('');
      onCreated(created);
    } catch (err) {
      setBusy(false);
      setError(err);
    }
  };

  const doorOptions = [
    { value: '', label: 'No door yet' },
    ...(doors ?? []).map((d) => ({ value: d.external_id, label: d.name ? `${d.name} (${d.external_id})` : d.external_id })),
  ];

  return (
    <Dialog open={open} title="Add device" onClose={close} testid="add-device-dialog" busy={busy}>
      <form onSubmit={submit} noValidate>
        <TextField
          id="add-device-name"
          label="Name"
          value={name}
          onValue={setName}
          required
          autocomplete="off"
          spellcheck={false}
          placeholder="lobby-left"
          hint="1 to 64 letters, digits, dots, dashes or underscores."
          error={local.name ?? fields.name}
        />
        {doors && !doorsError ? (
          <SelectField
            id="add-device-door"
            label="Door"
            value={door}
            onValue={setDoor}
            options={doorOptions}
            error={fields.door}
            hint="The door its captures are decided for; it can be changed later."
          />
        ) : (
          <TextField
            id="add-device-door"
            label="Door (external id)"
            value={door}
            onValue={setDoor}
            error={fields.door}
            hint="The door list could not be read; type the door’s external id, or leave empty."
          />
        )}
        <ErrorNote error={error} shownFields={['name', 'door']} testid="add-device-error" />
        <div class="actions">
          <button type="button" class="button secondary" onClick={close} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy} data-testid="add-device-submit">
            {busy ? 'Adding…' : 'Add and show its code'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function CommissioningView({ code, onDone }: { code: CommissioningCode; onDone: () => void }) {
  const payload = JSON.stringify(code.qr_payload);
  return (
    <div class="commissioning" data-testid="device-commissioning">
      <div class="commissioning-qr">
        <QrCode text={payload} label={`QR code for commissioning, code ${code.code}`} testid="device-qr" />
      </div>
      <div class="commissioning-text">
        <p>
          Put the terminal in commissioning mode and scan the QR code, or type the code. It works once, until{' '}
          <time dateTime={code.expires_at}>{formatTime(code.expires_at)}</time>.
        </p>
        <p class="label" id="device-code-label">
          Commissioning code
        </p>
        <div class="secret-row">
          <code id="device-code-value" class="code-big" aria-labelledby="device-code-label" data-testid="device-code">
            {code.code}
          </code>
          <CopyButton text={code.code} targetId="device-code-value" testid="device-code-copy" />
        </div>
        <dl class="details">
          <div class="details-row">
            <dt>Server</dt>
            <dd data-testid="device-qr-server">
              {code.qr_payload.server}:{code.qr_payload.port}
            </dd>
          </div>
          <div class="details-row">
            <dt>CA fingerprint (SHA-256)</dt>
            <dd>
              <code class="wrap" data-testid="device-qr-ca">{code.qr_payload.ca_sha256}</code>
            </dd>
          </div>
        </dl>
        <div class="actions">
          <button type="button" class="button primary" onClick={onDone} data-testid="device-code-done">
            Done
          </button>
        </div>
      </div>
    </div>
  );
}

function CommandDialog({ device, onClose }: { device: Device | null; onClose: () => void }) {
  const [command, setCommand] = useState<string>('reboot');
  const [payload, setPayload] = useState('');
  const [expires, setExpires] = useState('');
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [queued, setQueued] = useState<DeviceCommandQueued | null>(null);
  const fields = error instanceof ApiError ? error.fields : {};

  const close = () => {
    if (busy) return;
    setPayload('');
    setExpires('');
    setLocal({});
    setError(undefined);
    setQueued(null);
    onClose();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!device) return;
    const l: Record<string, string> = {};
    let parsed: unknown = undefined;
    if (payload.trim()) {
      try {
        parsed = JSON.parse(payload);
      } catch {
        l.payload = 'expected JSON, such as {"level": 2}';
      }
    }
    if (expires.trim() && (!/^\d+$/.test(expires.trim()) || +expires < 1)) l.expires_in_s = 'expected a whole number of seconds, 1 or more';
    setLocal(l);
    if (Object.keys(l).length) return;
    const body: Record<string, unknown> = { command };
    if (parsed !== undefined) body.payload = parsed;
    if (expires.trim()) body.expires_in_s = Number(expires.trim());
    setBusy(true);
    setError(undefined);
    try {
      const q = await api<DeviceCommandQueued>(`/api/v1/devices/${encodeURIComponent(device.name)}/commands`, {
        method: 'POST',
        json: body,
      });
      setQueued(q);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={device !== null} title={device ? `Command for ${device.name}` : 'Command'} onClose={close} testid="device-command-dialog" busy={busy}>
      {queued ? (
        <div>
          <p class="note note-ok" role="status" data-testid="device-command-queued">
            Queued command #{String(queued.id)} <strong>{queued.command}</strong> for {queued.device}: it is handed out
            with the terminal’s next heartbeat
            {queued.expires_at ? <>, unless not collected by {formatTime(queued.expires_at)}</> : null}.
          </p>
          <div class="actions">
            <button type="button" class="button primary" onClick={close}>
              Done
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={submit} noValidate>
          <SelectField
            id="command-type"
            label="Command"
            value={command}
            onValue={setCommand}
            options={DEVICE_COMMANDS.map((c) => ({ value: c, label: COMMAND_TEXT[c] }))}
            error={fields.command}
          />
          <Field id="command-payload" label="Payload (JSON, optional)" error={local.payload ?? fields.payload} hint="Handed to the terminal as it is; {} when empty.">
            <textarea
              id="command-payload"
              rows={3}
              spellcheck={false}
              value={payload}
              onInput={(e) => setPayload((e.currentTarget as HTMLTextAreaElement).value)}
              aria-describedby="command-payload-hint"
              data-testid="command-payload"
            />
          </Field>
          <TextField
            id="command-expires"
            label="Drop it if not collected within (s)"
            value={expires}
            onValue={setExpires}
            inputMode="numeric"
            placeholder="never"
            error={local.expires_in_s ?? fields.expires_in_s}
          />
          <ErrorNote error={error} shownFields={['command', 'payload', 'expires_in_s']} testid="device-command-error" />
          <div class="actions">
            <button type="button" class="button secondary" onClick={close} disabled={busy}>
              Cancel
            </button>
            <button type="submit" class="button primary" disabled={busy} data-testid="command-submit">
              {busy ? 'Queuing…' : 'Queue command'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
