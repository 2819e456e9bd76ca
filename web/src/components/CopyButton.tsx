// Copies a value with the Clipboard API; where that is refused (an older browser, a page not
// trusted with the clipboard) it selects the text so that Ctrl+C copies it.
import { useEffect, useRef, useState } from 'preact/hooks';

export interface CopyButtonProps {
  text: string;
  // The element holding the text, selected when the clipboard cannot be written.
  targetId?: string;
  label?: string;
  testid?: string;
}

function selectElement(id: string | undefined): boolean {
  if (!id) return false;
  const el = document.getElementById(id);
  if (!el) return false;
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    el.focus();
    el.select();
    return true;
  }
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel?.removeAllRanges();
  sel?.addRange(range);
  return true;
}

export function CopyButton({ text, targetId, label = 'Copy', testid }: CopyButtonProps) {
  const [state, setState] = useState<'' | 'copied' | 'selected' | 'failed'>('');
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);

  const copy = async () => {
    let done: typeof state = 'failed';
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      done = 'copied';
    } catch {
      if (selectElement(targetId)) {
        let copied = false;
        try {
          copied = document.execCommand('copy');
        } catch {
          copied = false;
        }
        done = copied ? 'copied' : 'selected';
      }
    }
    setState(done);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setState(''), 4000);
  };

  return (
    <span class="copy">
      <button type="button" class="button small secondary" onClick={copy} data-testid={testid}>
        {label}
      </button>
      <span class="copy-status" role="status" aria-live="polite">
        {state === 'copied' && 'Copied'}
        {state === 'selected' && 'Selected: press Ctrl+C to copy'}
        {state === 'failed' && 'Could not copy: select the text'}
      </span>
    </span>
  );
}
