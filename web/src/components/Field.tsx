// Labelled form controls with their hint and the server's (or the page's) problem beside them.
import type { ComponentChildren, InputHTMLAttributes } from 'preact';

function describedBy(id: string, hint?: ComponentChildren, error?: string): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

// The hint and the problem under a control, named by its aria-describedby.
function FieldNotes({ id, hint, error }: { id: string; hint?: ComponentChildren; error?: string }) {
  return (
    <>
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
    </>
  );
}

// The attributes every labelled control of a Field has: its id and name, whether it is invalid,
// the hint and problem that describe it, and its test id.
function controlAttrs(id: string, hint: ComponentChildren | undefined, error: string | undefined, testid: string | undefined) {
  return {
    id,
    name: id,
    'aria-invalid': error ? ('true' as const) : undefined,
    'aria-describedby': describedBy(id, hint, error),
    'data-testid': testid ?? id,
  };
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
      <FieldNotes id={id} hint={hint} error={error} />
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
        type="text"
        {...rest}
        {...controlAttrs(id, hint, error, testid)}
        value={value}
        required={required}
        onInput={(e) => onValue((e.currentTarget as HTMLInputElement).value)}
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
        {...controlAttrs(id, hint, error, testid)}
        value={value}
        disabled={disabled}
        required={required}
        onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)}
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

export interface SelectOrTextFieldProps {
  id: string;
  // The choices, or undefined when the list is not there (not read yet, or refused): then the
  // value is typed instead.
  options: { value: string; label: string }[] | undefined;
  label: ComponentChildren;
  textLabel: ComponentChildren;
  value: string;
  onValue: (v: string) => void;
  hint?: ComponentChildren;
  textHint?: ComponentChildren;
  error?: string;
}

// A choice from a list read from the server (doors, devices), or a text input when that list
// is missing.
export function SelectOrTextField({ options, label, textLabel, hint, textHint, ...common }: SelectOrTextFieldProps) {
  return options ? (
    <SelectField {...common} label={label} options={options} hint={hint} />
  ) : (
    <TextField {...common} label={textLabel} hint={textHint} />
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
      <FieldNotes id={id} hint={hint} error={error} />
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
        {...controlAttrs(id, hint, error, testid)}
        type="file"
        accept={accept}
        required={required}
        disabled={disabled}
        onChange={(e) => onFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null)}
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
