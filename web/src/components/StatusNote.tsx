// The outcome of an action, or why a page is shown, read out politely (role="status").
import type { ComponentChildren } from 'preact';

export interface StatusNoteProps {
  tone?: 'ok' | 'info';
  testid?: string;
  children: ComponentChildren;
}

export function StatusNote({ tone = 'ok', testid, children }: StatusNoteProps) {
  return (
    <p class={`note note-${tone}`} role="status" data-testid={testid}>
      {children}
    </p>
  );
}
