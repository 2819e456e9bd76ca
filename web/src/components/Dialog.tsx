// A modal <dialog>: showModal() traps focus and makes the page behind it inert; Escape (the
// dialog's cancel event) closes it; focus goes to the first field (or [autofocus]) on opening
// and back to the control that opened it on closing.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { useId } from '../hooks';

export interface DialogProps {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testid?: string;
  wide?: boolean;
  // Escape does not close it while this is set (a request in flight).
  busy?: boolean;
}

const FOCUSABLE =
  '[autofocus], input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), button:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])';

export function Dialog({ open, title, onClose, children, testid, wide, busy }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  const titleId = useId('dialog-title');
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const busyRef = useRef(busy);
  busyRef.current = busy;

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (open && !el.open) {
      opener.current = document.activeElement;
      el.showModal();
      const body = el.querySelector('.dialog-body');
      const first =
        (el.querySelector('[autofocus]') as HTMLElement | null) ??
        (body?.querySelector(FOCUSABLE) as HTMLElement | null) ??
        (el.querySelector(FOCUSABLE) as HTMLElement | null);
      first?.focus();
    } else if (!open && el.open) {
      el.close();
    }
  }, [open]);

  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const onCancel = (e: Event) => {
      e.preventDefault();
      if (!busyRef.current) onCloseRef.current();
    };
    const onClosed = () => {
      const back = opener.current as HTMLElement | null;
      opener.current = null;
      if (back && document.contains(back) && typeof back.focus === 'function') back.focus();
    };
    el.addEventListener('cancel', onCancel);
    el.addEventListener('close', onClosed);
    return () => {
      el.removeEventListener('cancel', onCancel);
      el.removeEventListener('close', onClosed);
    };
  }, []);

  return (
    <dialog
      ref={ref}
      class={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      data-testid={testid}
    >
      {open && (
        <div class="dialog-inner">
          <div class="dialog-header">
            <h2 id={titleId}>{title}</h2>
            <button
              type="button"
              class="icon-button"
              aria-label="Close"
              title="Close (Escape)"
              disabled={busy}
              onClick={onClose}
              data-testid={testid ? `${testid}-close` : undefined}
            >
              <span aria-hidden="true">×</span>
            </button>
          </div>
          <div class="dialog-body">{children}</div>
        </div>
      )}
    </dialog>
  );
}

export interface DialogActionsProps {
  onCancel: () => void;
  submitLabel: string;
  // A request in flight: both buttons are disabled and the submit button says busyLabel.
  busy?: boolean;
  busyLabel?: string;
  submitDisabled?: boolean;
  danger?: boolean;
  // Focus starts on Cancel (a confirmation of what cannot be undone).
  cancelAutofocus?: boolean;
  submitTestid?: string;
}

// The Cancel and submit buttons at the foot of a dialog's form.
export function DialogActions(p: DialogActionsProps) {
  return (
    <div class="actions">
      <button type="button" class="button secondary" onClick={p.onCancel} disabled={p.busy} autofocus={p.cancelAutofocus}>
        Cancel
      </button>
      <button
        type="submit"
        class={p.danger ? 'button danger' : 'button primary'}
        disabled={p.busy || p.submitDisabled}
        data-testid={p.submitTestid}
      >
        {p.busy ? p.busyLabel : p.submitLabel}
      </button>
    </div>
  );
}
