/** A horizontal bar chart in SVG: one labelled bar per row, values written out for screen readers. */
export function BarChart(props: {
  title: string;
  rows: Array<{ label: string; value: number }>;
  format: (v: number) => string;
}) {
  const max = Math.max(...props.rows.map((r) => r.value), 0);
  const barH = 22;
  const gap = 6;
  const labelW = 170;
  const width = 640;
  const height = Math.max(props.rows.length * (barH + gap), barH);
  const summary = props.rows.map((r) => `${r.label}: ${props.format(r.value)}`).join('; ');
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      {props.rows.length === 0 ? (
        <p class="muted">No usage in this range.</p>
      ) : (
        <svg
          role="img"
          aria-label={`${props.title}. ${summary}`}
          viewBox={`0 0 ${width} ${height}`}
          width="100%"
          preserveAspectRatio="xMinYMin meet"
        >
          {props.rows.map((r, i) => {
            const y = i * (barH + gap);
            const w = max > 0 ? Math.max(1, ((width - labelW - 110) * r.value) / max) : 1;
            return (
              <g key={r.label}>
                <text x={0} y={y + barH * 0.7} class="chart-label">
                  {r.label.length > 24 ? `${r.label.slice(0, 23)}…` : r.label}
                </text>
                <rect x={labelW} y={y} width={w} height={barH} class="chart-bar" rx={3} />
                <text x={labelW + w + 6} y={y + barH * 0.7} class="chart-value">
                  {props.format(r.value)}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
