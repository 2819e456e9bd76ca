// "Are you sure?" for what cannot be undone; the request runs inside it and its refusal is
// shown there.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Dialog, DialogActions } from './Dialog';
import { ErrorNote } from './ErrorNote';

export interface ConfirmDialogProps {
  open: boolean;
  title: string;
  confirmLabel: string;
  danger?: boolean;
  children: ComponentChildren;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  testid?: string;
}

export function ConfirmDialog(p: ConfirmDialogProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const close = () => {
    if (busy) return;
    setError(undefined);
    p.onClose();
  };
  const confirm = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await p.onConfirm();
      setBusy(false);
      p.onClose();
    } catch (err) {
      setBusy(false);
      setError(err);
    }
  };
  return (
    <Dialog open={p.open} title={p.title} onClose={close} testid={p.testid} busy={busy}>
      <form onSubmit={confirm}>
        <div class="confirm-text">{p.children}</div>
        <ErrorNote error={error} />
        <DialogActions
          onCancel={close}
          busy={busy}
          busyLabel="Working…"
          submitLabel={p.confirmLabel}
          danger={p.danger}
          cancelAutofocus
          submitTestid={p.testid ? `${p.testid}-confirm` : undefined}
        />
      </form>
    </Dialog>
  );
}
