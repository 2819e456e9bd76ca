// The cloud link (MQTT over mTLS): the broker, the CA that signed it, this server's client
// certificate and its key, uploaded as PEM text (ca_pem, cert_pem, key_pem; docs/connect.md).
import { useState } from 'preact/hooks';
import { FileField, readFileText, TextField } from '../../components/Field';
import type { Integration } from '../../types';
import { FormShell, HostField, numberProblem, numberSetting, type SaveIntegration, str, useIntegrationForm } from './common';

interface Pem {
  name: string;
  text: string;
}

type PemKey = 'ca' | 'cert' | 'key';

const PEM_LABEL: Record<PemKey, string> = {
  ca: 'Broker CA certificate',
  cert: 'Client certificate',
  key: 'Client private key',
};

function pemProblem(text: string): string | undefined {
  return text.includes('-----BEGIN ') ? undefined : 'expected PEM text (-----BEGIN …)';
}

export function ConnectForm({ integration, save }: { integration: Integration; save: SaveIntegration }) {
  const s = integration.settings;
  const form = useIntegrationForm(integration, save);
  const { enabled, setLocal, problem } = form;
  const [host, setHost] = useState(str(s.host));
  const [port, setPort] = useState(str(s.port));
  const [prefix, setPrefix] = useState(str(s.topic_prefix));
  const [keepAlive, setKeepAlive] = useState(str(s.keep_alive_s));
  const [pems, setPems] = useState<Partial<Record<PemKey, Pem>>>({});

  const pick = async (k: PemKey, f: File | null) => {
    if (!f) {
      setPems((p) => ({ ...p, [k]: undefined }));
      return;
    }
    try {
      const text = await readFileText(f);
      setPems((p) => ({ ...p, [k]: { name: f.name, text } }));
      setLocal((l) => {
        const n = { ...l };
        const pr = pemProblem(text);
        if (pr) n[`${k}_pem`] = pr;
        else delete n[`${k}_pem`];
        return n;
      });
    } catch (e) {
      setLocal((l) => ({ ...l, [`${k}_pem`]: e instanceof Error ? e.message : String(e) }));
    }
  };

  // What the server has now for one of the three: a PEM, a secret "(set)", or a file path.
  const current = (k: PemKey): string => {
    const pem = s[`${k}_pem`];
    const file = str(s[`${k}_file`]);
    if (pem === '(set)') return 'Set (secret, not shown).';
    if (typeof pem === 'string' && pem) {
      const certs = pem.split('-----BEGIN ').length - 1;
      return `Set: ${certs} PEM block${certs === 1 ? '' : 's'}, ${pem.length} characters.`;
    }
    if (file) return `Read from the file ${file} on the server.`;
    return 'Not set.';
  };

  const submit = () => {
    const l: Record<string, string> = {};
    const h = host.trim();
    if (enabled && !h) l.host = 'required (the broker’s name or address)';
    if (h && /[/: ]/.test(h) && !h.startsWith('[')) l.host = 'a host name or address, not a URL';
    const pp = numberProblem(port, 1, 65535);
    if (pp) l.port = pp;
    const kp = numberProblem(keepAlive, 5, 3600);
    if (kp) l.keep_alive_s = kp;
    if (prefix.trim() && !/^[A-Za-z0-9._-]{1,64}$/.test(prefix.trim())) l.topic_prefix = '1 to 64 characters of A-Z a-z 0-9 . _ -';
    for (const k of ['ca', 'cert', 'key'] as PemKey[]) {
      const p = pems[k];
      if (p) {
        const pr = pemProblem(p.text);
        if (pr) l[`${k}_pem`] = pr;
      }
    }
    const settings = () => {
      const out: Record<string, unknown> = {
        host: h || null,
        port: numberSetting(port),
        topic_prefix: prefix.trim() || null,
        keep_alive_s: numberSetting(keepAlive),
      };
      for (const k of ['ca', 'cert', 'key'] as PemKey[]) {
        const p = pems[k];
        if (p) {
          out[`${k}_pem`] = p.text;
          // One of file or PEM: the uploaded PEM replaces a configured file.
          out[`${k}_file`] = null;
        }
      }
      return out;
    };
    void form.submit(l, settings, () => setPems({}));
  };

  const shown = [
    'settings.host', 'settings.port', 'settings.topic_prefix', 'settings.keep_alive_s', 'enabled',
    'settings.ca_pem', 'settings.cert_pem', 'settings.key_pem', 'settings.ca_file', 'settings.cert_file', 'settings.key_file',
  ];

  return (
    <FormShell {...form.shell} shownFields={shown} onSubmit={submit}>
      <fieldset>
        <legend>Broker</legend>
        <div class="row">
          <HostField id="connect-host" label="Broker host" value={host} onValue={setHost} placeholder="mqtt.example.com" error={problem('host')} />
          <TextField id="connect-port" label="Port" value={port} onValue={setPort} inputMode="numeric" placeholder="8883" class="narrow" error={problem('port')} />
        </div>
        <div class="row">
          <TextField id="connect-topic-prefix" label="Topic prefix" value={prefix} onValue={setPrefix} placeholder="facegate" error={problem('topic_prefix')} />
          <TextField id="connect-keep-alive" label="Keep-alive (s)" value={keepAlive} onValue={setKeepAlive} inputMode="numeric" placeholder="30" class="narrow" error={problem('keep_alive_s')} />
        </div>
      </fieldset>
      <fieldset>
        <legend>Certificates</legend>
        <p class="hint">PEM files are read in this browser and sent as text; the private key is kept sealed and never shown again.</p>
        {(['ca', 'cert', 'key'] as PemKey[]).map((k) => (
          <FileField
            key={k}
            id={`connect-${k}-pem`}
            label={PEM_LABEL[k]}
            accept=".pem,.crt,.cer,.key,application/x-pem-file,text/plain"
            onFile={(f) => void pick(k, f)}
            error={problem(`${k}_pem`) ?? problem(`${k}_file`)}
            hint={pems[k] ? `Will send ${pems[k]!.name} (${pems[k]!.text.length} characters).` : current(k)}
          />
        ))}
      </fieldset>
    </FormShell>
  );
}
