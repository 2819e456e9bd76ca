// Self-enrollment: opens only with the company's name and the URL of a privacy policy that
// describes the biometric processing (both required; the URL must be https here).
import { useState } from 'preact/hooks';
import { TextField } from '../../components/Field';
import type { Integration } from '../../types';
import { FormShell, type SaveIntegration, str, useIntegrationForm } from './common';

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
  const form = useIntegrationForm(integration, save);
  const { problem } = form;
  const [company, setCompany] = useState(str(s.company_name));
  const [policy, setPolicy] = useState(str(s.privacy_policy_url));

  const submit = () => {
    const l: Record<string, string> = {};
    if (!company.trim()) l.company_name = 'required';
    const p = httpsUrlProblem(policy);
    if (p) l.privacy_policy_url = p;
    void form.submit(l, () => ({ company_name: company.trim(), privacy_policy_url: policy.trim() }));
  };

  return (
    <FormShell {...form.shell} shownFields={['settings.company_name', 'settings.privacy_policy_url', 'enabled']} onSubmit={submit}>
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
