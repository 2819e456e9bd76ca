// The server's message for a refused request; field problems not shown beside a field of the
// form are listed under it.
import { ApiError } from '../api';

export interface ErrorNoteProps {
  error: unknown;
  // Fields the form shows next to their inputs; the others are listed here.
  shownFields?: string[];
  testid?: string;
}

export function ErrorNote({ error, shownFields = [], testid = 'error' }: ErrorNoteProps) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const rest =
    error instanceof ApiError
      ? Object.entries(error.fields).filter(([k]) => !shownFields.includes(k))
      : [];
  const role =
    error instanceof ApiError && error.status === 403 ? 'You may not do this: ' : '';
  return (
    <div class="note note-error" role="alert" data-testid={testid}>
      <p>
        {role}
        {message}
      </p>
      {rest.length > 0 && (
        <ul>
          {rest.map(([k, v]) => (
            <li key={k}>
              <code>{k}</code>: {v}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
