// The server: GET /api/v1/system (version, uptime, counts, model, index), GET /readyz (its
// checks and warnings: clock not synchronised, storage not encrypted, device certificates
// expiring, ...) and GET /metrics (the access latency histogram, the face queue depth).
// What none of them reports is shown as "not reported".
import type { ComponentChildren } from 'preact';
import { api, apiJsonAnyStatus, apiText } from '../api';
import { ErrorNote } from '../components/ErrorNote';
import { LatencyChart } from '../components/LatencyChart';
import { Badge } from '../components/StatusBadge';
import { formatDuration, formatNumber, formatTime } from '../format';
import { useInterval, useLoad } from '../hooks';
import { gaugeSum, histogramPercentiles, parsePrometheus } from '../metrics';
import type { Readiness, SystemInfo } from '../types';

function NotReported() {
  return <span class="muted not-reported">not reported</span>;
}

function Row({ label, children, testid }: { label: string; children: ComponentChildren; testid?: string }) {
  return (
    <div class="details-row">
      <dt>{label}</dt>
      <dd data-testid={testid}>{children}</dd>
    </div>
  );
}

function num(v: number | undefined | null, digits = 0) {
  return v === undefined || v === null ? <NotReported /> : formatNumber(v, digits);
}

export function SystemPage() {
  const system = useLoad((signal) => api<SystemInfo>('/api/v1/system', { signal }), []);
  const ready = useLoad(() => apiJsonAnyStatus<Readiness>('/readyz'), []);
  const metrics = useLoad(async () => parsePrometheus(await apiText('/metrics')), []);

  useInterval(async () => {
    await Promise.all([system.reload(), ready.reload(), metrics.reload()]);
  }, 10000);

  const s = system.data;
  const r = ready.data?.body;
  const latency = metrics.data ? histogramPercentiles(metrics.data, 'facegate_access_latency_seconds') : null;
  const queueDepth = metrics.data ? gaugeSum(metrics.data, 'facegate_face_queue_depth') : null;

  return (
    <>
      <div class="page-head">
        <h1>System</h1>
        <button
          type="button"
          class="button secondary"
          onClick={() => void Promise.all([system.reload(), ready.reload(), metrics.reload()])}
          data-testid="system-refresh"
        >
          Refresh
        </button>
      </div>
      <ErrorNote error={system.error} testid="system-error" />

      <section class="panel" aria-labelledby="warnings-title" data-testid="system-warnings">
        <h2 id="warnings-title">Warnings</h2>
        {ready.error !== undefined ? (
          <p>
            <NotReported /> (GET /readyz failed)
          </p>
        ) : !r ? (
          <p role="status">Loading…</p>
        ) : r.warnings.length === 0 ? (
          <p data-testid="system-no-warnings">
            <Badge tone="ok" text="No warnings" />
          </p>
        ) : (
          <ul class="warnings">
            {r.warnings.map((w) => (
              <li key={w.name} class="note note-warn" data-testid="system-warning" data-warning={w.name}>
                <strong>{w.name.replace(/_/g, ' ')}</strong>: {w.message}
              </li>
            ))}
          </ul>
        )}
      </section>

      <div class="panels">
        <section class="panel" aria-labelledby="server-title">
          <h2 id="server-title">Server</h2>
          {s ? (
            <dl class="details">
              <Row label="Version" testid="system-version">{s.version}</Row>
              <Row label="Uptime" testid="system-uptime">{formatDuration(s.uptime_s)}</Row>
              <Row label="Server time" testid="system-time">{formatTime(s.time)}</Row>
              <Row label="Readiness" testid="system-readiness">
                {r ? (
                  <Badge tone={r.status === 'ready' ? 'ok' : r.status === 'draining' ? 'warn' : 'bad'} text={r.status === 'ready' ? 'Ready' : r.status === 'draining' ? 'Draining' : 'Not ready'} />
                ) : (
                  <NotReported />
                )}
              </Row>
            </dl>
          ) : (
            !system.error && <p role="status">Loading…</p>
          )}
        </section>

        <section class="panel" aria-labelledby="model-title">
          <h2 id="model-title">Face model and index</h2>
          {s && (
            <dl class="details">
              <Row label="Model" testid="system-model">{s.model.version}</Row>
              <Row label="Face work" testid="system-face-work">{s.model.face_work ? 'on' : 'off (face.enabled is false)'}</Row>
              <Row label="Security level">{s.model.security_level}</Row>
              <Row label="Distance threshold">{formatNumber(s.model.threshold, 3)}</Row>
              <Row label="Index size (templates)" testid="system-index-templates">{s.index ? num(s.index.templates) : <NotReported />}</Row>
              <Row label="Identities">{s.index ? num(s.index.identities) : <NotReported />}</Row>
              <Row label="Storage, SIMD">{s.index ? `${s.index.storage ?? '—'}, ${s.index.simd ?? '—'}` : <NotReported />}</Row>
              <Row label="Index load time">{s.index?.load_seconds !== undefined ? `${formatNumber(s.index.load_seconds, 2)} s` : <NotReported />}</Row>
              <Row label="Stranger false-match probability">
                {s.index?.stranger_match_probability !== undefined ? s.index.stranger_match_probability.toExponential(1) : <NotReported />}
              </Row>
              <Row label="Face queue depth" testid="system-queue-depth">{queueDepth === null ? <NotReported /> : formatNumber(queueDepth)}</Row>
            </dl>
          )}
        </section>

        <section class="panel" aria-labelledby="counts-title">
          <h2 id="counts-title">Counts</h2>
          {s && (
            <dl class="details" data-testid="system-counts">
              <Row label="People">{num(s.counts.users)}</Row>
              <Row label="Face templates">{num(s.counts.templates)}</Row>
              <Row label="Kept photos">{num(s.counts.photos)}</Row>
              <Row label="Events">{num(s.counts.events)}</Row>
              <Row label="Doors">{num(s.counts.doors)}</Row>
              <Row label="Devices (online)">
                {s.counts.devices === undefined ? <NotReported /> : `${formatNumber(s.counts.devices)} (${s.counts.devices_online ?? 0} online)`}
              </Row>
            </dl>
          )}
        </section>

        <section class="panel" aria-labelledby="latency-title" data-testid="system-latency">
          <h2 id="latency-title">Access latency</h2>
          {metrics.error !== undefined || (metrics.data && !latency) ? (
            <p>
              <NotReported />
            </p>
          ) : !latency ? (
            <p role="status">Loading…</p>
          ) : latency.count === 0 ? (
            <p class="muted">No access decision since the server started.</p>
          ) : (
            <>
              <LatencyChart
                values={[
                  { label: 'p50', ms: latency.p50 },
                  { label: 'p90', ms: latency.p90 },
                  { label: 'p99', ms: latency.p99 },
                ]}
                testid="latency-chart"
              />
              <p class="hint">
                From capture received to decision sent, over {formatNumber(latency.count)} decisions since the server
                started{latency.mean !== null ? `; mean ${formatNumber(latency.mean, 1)} ms` : ''}. Interpolated in the
                buckets of <code>facegate_access_latency_seconds</code>.
              </p>
            </>
          )}
        </section>

        {r && Object.keys(r.checks).length > 0 && (
          <section class="panel" aria-labelledby="checks-title">
            <h2 id="checks-title">Components</h2>
            <dl class="details" data-testid="system-checks">
              {Object.entries(r.checks).map(([name, c]) => (
                <Row key={name} label={name}>
                  <Badge tone={c.ready ? 'ok' : 'bad'} text={c.ready ? 'Ready' : 'Not ready'} /> <span class="muted">{c.detail}</span>
                </Row>
              ))}
            </dl>
          </section>
        )}
      </div>
    </>
  );
}
