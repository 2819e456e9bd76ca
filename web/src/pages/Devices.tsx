// Door terminals: their state, adding one (its commissioning code and QR code), a new code,
// commands for the next heartbeat, disabling, revoking and deleting.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { ACTIONS_COLUMN, DataTable } from '../components/DataTable';
import { Dialog, DialogActions } from '../components/Dialog';
import { ErrorNote } from '../components/ErrorNote';
import { Field, SelectField, SelectOrTextField, TextField } from '../components/Field';
import { QrCode } from '../components/QrCode';
import { Badge } from '../components/StatusBadge';
import { StatusNote } from '../components/StatusNote';
import { doorName, formatAgo, formatTime } from '../format';
import { useFormRequest, useInterval, useLoad } from '../hooks';
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
      {notice && <StatusNote testid="device-notice">{notice}</StatusNote>}
      {devices.loading && !devices.data && <p role="status">Loading…</p>}
      {devices.data && list.length === 0 && (
        <p class="empty" data-testid="devices-empty">
          No terminal yet. Use <strong>Add device</strong> to register one and commission it with its code.
        </p>
      )}
      {list.length > 0 && (
        <DataTable
          testid="device-table"
          caption="Door terminals"
          columns={['Name', 'Online', 'Status', 'Door', 'Firmware', 'Last seen', 'Certificate until', ACTIONS_COLUMN]}
        >
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
        </DataTable>
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
      <DeviceConfirmDialog
        device={pending?.kind === 'decommission' ? pending.device : null}
        verb="Revoke"
        confirmLabel="Revoke its certificates"
        testid="device-revoke-dialog"
        onClose={() => setPending(null)}
        onConfirm={async (d) => {
          const r = await api<{ certificates_revoked: number }>(`/api/v1/devices/${encodeURIComponent(d.name)}/decommission`, {
            method: 'POST',
          });
          setNotice(`${d.name} revoked (${r.certificates_revoked} certificate${r.certificates_revoked === 1 ? '' : 's'}).`);
          await devices.reload();
        }}
      >
        {(d) => (
          <p>
            The certificates of <strong>{d.name}</strong>
            {d.door ? <> (door {d.door})</> : null} are revoked: the terminal is refused from then on. To use it again,
            make a new code and commission it.
          </p>
        )}
      </DeviceConfirmDialog>
      <DeviceConfirmDialog
        device={pending?.kind === 'delete' ? pending.device : null}
        verb="Delete"
        confirmLabel="Delete the device"
        testid="device-delete-dialog"
        onClose={() => setPending(null)}
        onConfirm={async (d) => {
          await api(`/api/v1/devices/${encodeURIComponent(d.name)}`, { method: 'DELETE' });
          setNotice(`${d.name} deleted.`);
          await devices.reload();
        }}
      >
        {(d) => (
          <p>
            The terminal <strong>{d.name}</strong> is removed from Facegate. Its access events stay.
          </p>
        )}
      </DeviceConfirmDialog>
    </>
  );
}

// Confirms what cannot be undone to one device (revoke, delete), named in the title.
function DeviceConfirmDialog({
  device,
  verb,
  confirmLabel,
  testid,
  onClose,
  onConfirm,
  children,
}: {
  device: Device | null;
  verb: string;
  confirmLabel: string;
  testid: string;
  onClose: () => void;
  onConfirm: (d: Device) => Promise<void>;
  children: (d: Device) => ComponentChildren;
}) {
  return (
    <ConfirmDialog
      open={device !== null}
      title={device ? `${verb} ${device.name}?` : `${verb}?`}
      confirmLabel={confirmLabel}
      danger
      testid={testid}
      onClose={onClose}
      onConfirm={async () => {
        if (device) await onConfirm(device);
      }}
    >
      {device && children(device)}
    </ConfirmDialog>
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
  const { busy, error, fields, problem, reset, run } = useFormRequest();

  const close = () => {
    if (busy) return;
    setName('');
    setDoor('');
    reset();
    onClose();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const l: Record<string, string> = {};
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name.trim())) l.name = '1 to 64 characters of A-Z a-z 0-9 . _ -';
    const created = await run(l, () =>
      api<DeviceCreated>('/api/v1/devices', {
        method: 'POST',
        json: { name: name.trim(), door: door.trim() || null },
      }),
    );
    if (!created) return;
    setName('');
    setDoor('');
    onCreated(created);
  };

  const doorOptions =
    doors && !doorsError ? [{ value: '', label: 'No door yet' }, ...doors.map((d) => ({ value: d.external_id, label: doorName(d) }))] : undefined;

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
          error={problem('name')}
        />
        <SelectOrTextField
          id="add-device-door"
          options={doorOptions}
          label="Door"
          textLabel="Door (external id)"
          value={door}
          onValue={setDoor}
          error={fields.door}
          hint="The door its captures are decided for; it can be changed later."
          textHint="The door list could not be read; type the door’s external id, or leave empty."
        />
        <ErrorNote error={error} shownFields={['name', 'door']} testid="add-device-error" />
        <DialogActions onCancel={close} busy={busy} busyLabel="Adding…" submitLabel="Add and show its code" submitTestid="add-device-submit" />
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
  const [queued, setQueued] = useState<DeviceCommandQueued | null>(null);
  const { busy, error, fields, problem, reset, run } = useFormRequest();

  const close = () => {
    if (busy) return;
    setPayload('');
    setExpires('');
    reset();
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
    const body: Record<string, unknown> = { command };
    if (parsed !== undefined) body.payload = parsed;
    if (expires.trim()) body.expires_in_s = Number(expires.trim());
    const q = await run(l, () =>
      api<DeviceCommandQueued>(`/api/v1/devices/${encodeURIComponent(device.name)}/commands`, { method: 'POST', json: body }),
    );
    if (q) setQueued(q);
  };

  return (
    <Dialog open={device !== null} title={device ? `Command for ${device.name}` : 'Command'} onClose={close} testid="device-command-dialog" busy={busy}>
      {queued ? (
        <div>
          <StatusNote testid="device-command-queued">
            Queued command #{String(queued.id)} <strong>{queued.command}</strong> for {queued.device}: it is handed out
            with the terminal’s next heartbeat
            {queued.expires_at ? <>, unless not collected by {formatTime(queued.expires_at)}</> : null}.
          </StatusNote>
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
          <Field id="command-payload" label="Payload (JSON, optional)" error={problem('payload')} hint="Handed to the terminal as it is; {} when empty.">
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
            error={problem('expires_in_s')}
          />
          <ErrorNote error={error} shownFields={['command', 'payload', 'expires_in_s']} testid="device-command-error" />
          <DialogActions onCancel={close} busy={busy} busyLabel="Queuing…" submitLabel="Queue command" submitTestid="command-submit" />
        </form>
      )}
    </Dialog>
  );
}
