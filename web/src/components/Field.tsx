// Labelled form controls with their hint and the server's (or the page's) problem beside them.
import type { ComponentChildren, InputHTMLAttributes } from 'preact';

function describedBy(id: string, hint?: ComponentChildren, error?: string): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

interface FieldShellProps {
  id: string;
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string;
  required?: boolean;
  children: ComponentChildren;
  class?: string;
}

export function Field({ id, label, hint, error, required, children, class: cls }: FieldShellProps) {
  return (
    <div class={`field${error ? ' field-invalid' : ''}${cls ? ' ' + cls : ''}`}>
      <label for={id}>
        {label}
        {required && <span class="required"> (required)</span>}
      </label>
      {children}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

type InputAttrs = Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onInput' | 'label' | 'id' | 'required'>;

export interface TextFieldProps extends InputAttrs {
  id: string;
  label: ComponentChildren;
  value: string;
  onValue: (v: string) => void;
  hint?: ComponentChildren;
  error?: string;
  required?: boolean;
  testid?: string;
}

export function TextField({ id, label, value, onValue, hint, error, required, testid, ...rest }: TextFieldProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error} required={required}>
      <input
        id={id}
        name={id}
        type="text"
        {...rest}
        value={value}
        required={required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
        data-testid={testid ?? id}
      />
    </Field>
  );
}

export interface SelectFieldProps {
  id: string;
  label: ComponentChildren;
  value: string;
  onValue: (v: string) => void;
  options: { value: string; label: string }[];
  hint?: ComponentChildren;
  error?: string;
  required?: boolean;
  disabled?: boolean;
  testid?: string;
}

export function SelectField({ id, label, value, onValue, options, hint, error, required, disabled, testid }: SelectFieldProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error} required={required}>
      <select
        id={id}
        name={id}
        value={value}
        disabled={disabled}
        required={required}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}
        data-testid={testid ?? id}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Field>
  );
}

export interface SwitchProps {
  id: string;
  label: ComponentChildren;
  checked: boolean;
  onChecked: (v: boolean) => void;
  hint?: ComponentChildren;
  error?: string;
  disabled?: boolean;
  testid?: string;
}

// A checkbox that looks like a switch (role="switch": read as on/off).
export function Switch({ id, label, checked, onChecked, hint, error, disabled, testid }: SwitchProps) {
  return (
    <div class={`field field-switch${error ? ' field-invalid' : ''}`}>
      <input
        id={id}
        name={id}
        type="checkbox"
        role="switch"
        class="switch"
        checked={checked}
        disabled={disabled}
        aria-checked={checked ? 'true' : 'false'}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onChecked((e.currentTarget as HTMLInputElement).checked)}
        data-testid={testid ?? id}
      />
      <label for={id}>{label}</label>
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}

export interface FileFieldProps {
  id: string;
  label: ComponentChildren;
  accept?: string;
  onFile: (f: File | null) => void;
  hint?: ComponentChildren;
  error?: string;
  required?: boolean;
  testid?: string;
  disabled?: boolean;
}

export function FileField({ id, label, accept, onFile, hint, error, required, testid, disabled }: FileFieldProps) {
  return (
    <Field id={id} label={label} hint={hint} error={error} required={required}>
      <input
        id={id}
        name={id}
        type="file"
        accept={accept}
        required={required}
        disabled={disabled}
        aria-invalid={error ? 'true' : undefined}
        aria-describedby={describedBy(id, hint, error)}
        onChange={(e) => onFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
        data-testid={testid ?? id}
      />
    </Field>
  );
}

// The text of a file (a PEM certificate) read in the browser.
export function readFileText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result ?? ''));
    reader.onerror = () => reject(reader.error ?? new Error(`cannot read ${file.name}`));
    reader.readAsText(file);
  });
}
