// Latency percentiles as horizontal bars, drawn with SVG attributes only.
export interface LatencyChartProps {
  values: { label: string; ms: number }[];
  testid?: string;
}

export function LatencyChart({ values, testid }: LatencyChartProps) {
  const width = 420;
  const row = 28;
  const labelW = 48;
  const valueW = 80;
  const max = Math.max(1, ...values.map((v) => v.ms));
  const barMax = width - labelW - valueW;
  const height = values.length * row + 4;
  return (
    <svg
      class="chart"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={values.map((v) => `${v.label} ${v.ms.toFixed(1)} ms`).join(', ')}
      data-testid={testid}
    >
      {values.map((v, i) => {
        const y = i * row + 4;
        const w = Math.max(2, (v.ms / max) * barMax);
        return (
          <g key={v.label}>
            <text x={0} y={y + 15} class="chart-label">
              {v.label}
            </text>
            <rect x={labelW} y={y} width={w} height={20} rx={3} class="chart-bar" />
            <text x={labelW + w + 6} y={y + 15} class="chart-value">
              {v.ms.toFixed(1)} ms
            </text>
          </g>
        );
      })}
    </svg>
  );
}
