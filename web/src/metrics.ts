// What the System page reads from GET /metrics (Prometheus text, admin listener, no token):
// the access latency histogram and the face queue depth. Nothing is made up: a metric that is
// not there is "not reported".

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[3])) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number | null;
}

// Percentiles of a histogram (summed over its label sets), interpolated linearly inside the
// bucket the rank falls in, as Prometheus' histogram_quantile does. In milliseconds.
export function histogramPercentiles(samples: Sample[], name: string): Percentiles | null {
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  let seen = false;
  for (const s of samples) {
    if (s.name === `${name}_bucket` && s.labels.le !== undefined) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + s.value);
      seen = true;
    } else if (s.name === `${name}_sum`) {
      sum += s.value;
    } else if (s.name === `${name}_count`) {
      count += s.value;
    }
  }
  if (!seen) return null;
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (total <= 0) return { count: 0, p50: 0, p90: 0, p99: 0, mean: null };
  const q = (p: number): number => {
    const rank = p * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const [le, c] of sorted) {
      if (c >= rank) {
        if (le === Infinity) return prevLe;
        const inBucket = c - prevCount;
        const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 0;
        return prevLe + (le - prevLe) * frac;
      }
      prevLe = le;
      prevCount = c;
    }
    return prevLe;
  };
  return {
    count: count || total,
    p50: q(0.5) * 1000,
    p90: q(0.9) * 1000,
    p99: q(0.99) * 1000,
    mean: count > 0 ? (sum / count) * 1000 : null,
  };
}

export function gaugeSum(samples: Sample[], name: string): number | null {
  let found = false;
  let v = 0;
  for (const s of samples) {
    if (s.name === name) {
      found = true;
      v += s.value;
    }
  }
  return found ? v : null;
}
