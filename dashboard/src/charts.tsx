/**
 * The overview's charts, drawn as inline SVG: no chart library, nothing fetched, nothing inline
 * that the page's Content-Security-Policy (`style-src 'self'`) would block — shapes carry classes
 * and the stylesheet colours them. The SVG scales to its box (viewBox), so a chart fits a phone.
 */
import type { JSX } from 'preact';

/** One line of a {@link LineChart}: `values[i]` belongs to `times[i]`. */
export interface Line {
  /** Stable name for tests and the legend's data attribute. */
  key: string;
  label: string;
  values: number[];
}

const WIDTH = 400;
const HEIGHT = 170;
const PAD = { left: 34, right: 8, top: 10, bottom: 22 };

/** The smallest of 1, 2 or 5 × a power of ten at or above `n` (at least 1): a readable axis top. */
export function niceMax(n: number): number {
  if (!(n > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function compact(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n >= 10 ? n.toFixed(0) : n.toFixed(1);
}

/**
 * Lines over time, sharing one y axis from 0. The legend under the chart gives each line's
 * latest value and maximum, so the numbers are readable without hovering.
 */
export function LineChart({ title, times, lines }: { title: string; times: number[]; lines: Line[] }): JSX.Element {
  const first = times[0] ?? 0;
  const last = times.at(-1) ?? first;
  const span = Math.max(1, last - first);
  const top = niceMax(Math.max(0, ...lines.flatMap((l) => l.values)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t: number): number => PAD.left + (times.length < 2 ? plotW : ((t - first) / span) * plotW);
  const y = (v: number): number => PAD.top + plotH - (v / top) * plotH;
  const summary = lines.map((l) => `${l.label} ${compact(l.values.at(-1) ?? 0)} now, at most ${compact(Math.max(0, ...l.values))}`).join('; ');
  return (
    <figure class="chart" aria-label={title}>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`${title}: ${summary}`} class="chart-svg">
        {[0, top / 2, top].map((v) => (
          <g key={v}>
            <line class="chart-grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(v)} y2={y(v)} />
            <text class="chart-axis" x={PAD.left - 4} y={y(v) + 4} text-anchor="end">
              {compact(v)}
            </text>
          </g>
        ))}
        {times.length > 0 ? (
          <>
            <text class="chart-axis" x={PAD.left} y={HEIGHT - 6} text-anchor="start">
              {clock(first)}
            </text>
            <text class="chart-axis" x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end">
              {clock(last)}
            </text>
          </>
        ) : null}
        {lines.map((line, i) =>
          times.length === 1 ? (
            <circle key={line.key} class={`chart-dot chart-${i}`} cx={x(first)} cy={y(line.values[0] ?? 0)} r={3} />
          ) : (
            <polyline key={line.key} class={`chart-line chart-${i}`} points={times.map((t, j) => `${x(t).toFixed(1)},${y(line.values[j] ?? 0).toFixed(1)}`).join(' ')} />
          ),
        )}
      </svg>
      <figcaption>
        <ul class="legend">
          {lines.map((line, i) => {
            const max = Math.max(0, ...line.values);
            return (
              <li key={line.key} data-series={line.key} data-max={max}>
                <span class={`swatch chart-${i}`} aria-hidden="true" /> {line.label}: <strong>{compact(line.values.at(-1) ?? 0)}</strong> now, max {compact(max)}
              </li>
            );
          })}
        </ul>
      </figcaption>
    </figure>
  );
}

/** Bars for counts by name, largest first; each row has its label above the bar and its count beside it. */
export function BarChart({ title, counts, tone }: { title: string; counts: [string, number][]; tone?: (name: string) => 'good' | 'bad' | 'neutral' }): JSX.Element {
  const rows = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const top = Math.max(1, ...rows.map(([, n]) => n));
  const ROW = 34;
  const barW = WIDTH - 60;
  const height = Math.max(ROW, rows.length * ROW);
  return (
    <figure class="chart" aria-label={title}>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label={`${title}: ${rows.map(([name, n]) => `${name} ${n}`).join(', ')}`} class="chart-svg">
        {rows.map(([name, n], i) => (
          <g key={name} data-bar={name} data-count={n}>
            <text class="chart-label" x={0} y={i * ROW + 12}>
              {name}
            </text>
            <rect class={`chart-bar bar-${tone?.(name) ?? 'neutral'}`} x={0} y={i * ROW + 16} width={Math.max(2, (n / top) * barW)} height={12} rx={2} />
            <text class="chart-axis" x={Math.max(2, (n / top) * barW) + 6} y={i * ROW + 26}>
              {n}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
