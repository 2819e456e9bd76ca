// Self-enrollment: opens only with the company's name and the URL of a privacy policy that
// describes the biometric processing (both required; the URL must be https here).
import { useState } from 'preact/hooks';
import { ApiError, fieldsUnder } from '../../api';
import { TextField } from '../../components/Field';
import type { Integration } from '../../types';
import { FormShell, type SaveIntegration, str } from './common';

export function httpsUrlProblem(value: string): string | undefined {
  const v = value.trim();
  if (!v) return 'required';
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'expected a whole URL, such as https://example.com/privacy';
  }
  if (u.protocol !== 'https:') return 'expected an https:// URL';
  if (!u.hostname) return 'expected a host name in the URL';
  return undefined;
}

export function EnrollmentForm({ integration, save }: { integration: Integration; save: SaveIntegration }) {
  const s = integration.settings;
  const [enabled, setEnabled] = useState(integration.enabled);
  const [company, setCompany] = useState(str(s.company_name));
  const [policy, setPolicy] = useState(str(s.privacy_policy_url));
  const [local, setLocal] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const server = error instanceof ApiError ? fieldsUnder(error.fields, 'settings.') : {};
  const problem = (k: string) => local[k] ?? server[k];

  const submit = async () => {
    const l: Record<string, string> = {};
    if (!company.trim()) l.company_name = 'required';
    const p = httpsUrlProblem(policy);
    if (p) l.privacy_policy_url = p;
    setLocal(l);
    setSaved(false);
    if (Object.keys(l).length) {
      setError(new Error('Some settings need attention (see the fields).'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await save(enabled, { company_name: company.trim(), privacy_policy_url: policy.trim() });
      setSaved(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormShell
      integration={integration}
      enabled={enabled}
      setEnabled={setEnabled}
      enabledError={error instanceof ApiError ? error.fields.enabled : undefined}
      busy={busy}
      error={error}
      shownFields={['settings.company_name', 'settings.privacy_policy_url', 'enabled']}
      saved={saved}
      onSubmit={submit}
    >
      <TextField
        id="enrollment-company"
        label="Company name"
        value={company}
        onValue={setCompany}
        required
        autocomplete="organization"
        error={problem('company_name')}
        hint="Shown to people on the consent page."
      />
      <TextField
        id="enrollment-privacy-url"
        label="Privacy policy URL"
        type="url"
        value={policy}
        onValue={setPolicy}
        required
        spellcheck={false}
        placeholder="https://example.com/privacy"
        error={problem('privacy_policy_url')}
        hint="An https URL of a policy that describes the biometric processing."
      />
    </FormShell>
  );
}
