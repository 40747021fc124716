import { html, type SafeHtml } from '../../web/html.util.js';

/** One line of a chart: its name, colour and a value per bucket. */
export interface ChartSeries {
  name: string;
  color: string;
  values: readonly number[];
}

/** A time chart: buckets from `since`, `bucketMs` wide, and its series. */
export interface TimeChart {
  /** Unique on the page: the SVG's `<title>` and `<desc>` ids derive from it. */
  id: string;
  title: string;
  since: Date;
  bucketMs: number;
  series: readonly ChartSeries[];
}

const W = 640;
const H = 180;
const LEFT = 40;
const RIGHT = 12;
const TOP = 26;
const BOTTOM = 24;

/** A bucket's start as short UTC text: `14:05`, or `12-03 18:00` for buckets of a day or more. */
export function bucketLabel(start: Date, bucketMs: number, wide = bucketMs >= 21_600_000): string {
  const iso = start.toISOString();
  return wide ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/** A bucket's width as words: `5-minute`, `1-hour`. */
export function bucketWidth(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}-hour` : `${Math.round(ms / 60_000)}-minute`;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/**
 * A server-rendered SVG line chart (no script): `role="img"` labelled by its `<title>` and a
 * `<desc>` that states the totals; each point has a `<title>` with its bucket and count. The same
 * numbers follow in a table (see {@link chartTable}).
 */
export function lineChart(c: TimeChart): SafeHtml {
  const n = Math.max(1, ...c.series.map((s) => s.values.length));
  const max = Math.max(1, ...c.series.flatMap((s) => s.values));
  const x = (i: number) => LEFT + (n === 1 ? 0 : (i * (W - LEFT - RIGHT)) / (n - 1));
  const y = (v: number) => TOP + (H - TOP - BOTTOM) * (1 - v / max);
  const at = (i: number) => new Date(c.since.getTime() + i * c.bucketMs);
  const totals = c.series.map((s) => `${sum(s.values)} ${s.name}`).join(', ');
  const desc = `${c.title}, per ${bucketWidth(c.bucketMs)} bucket from ${bucketLabel(at(0), c.bucketMs, true)} UTC: ${totals}.`;
  const grid = [0, Math.round(max / 2), max].filter((v, i, a) => a.indexOf(v) === i);
  const ticks = [0, Math.floor((n - 1) / 2), n - 1].filter((v, i, a) => a.indexOf(v) === i);
  return html`<svg
    class="chart"
    role="img"
    viewBox="0 0 ${W} ${H}"
    width="${W}"
    height="${H}"
    aria-labelledby="${c.id}-title ${c.id}-desc"
    data-chart="${c.id}"
  >
    <title id="${c.id}-title">${c.title}</title>
    <desc id="${c.id}-desc">${desc}</desc>
    ${grid.map(
      (v) =>
        html`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v)}" y2="${y(v)}" stroke="#dcdce3" />
          <text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11" fill="#6b6b76">
            ${v}
          </text>`,
    )}
    ${ticks.map(
      (i) =>
        html`<text
          x="${x(i)}"
          y="${H - 6}"
          text-anchor="${i === 0 && n > 1 ? 'start' : i === n - 1 ? 'end' : 'middle'}"
          font-size="11"
          fill="#6b6b76"
        >
          ${bucketLabel(at(i), c.bucketMs)}
        </text>`,
    )}
    ${c.series.map(
      (s, k) =>
        html`<g class="series" data-series="${s.name}">
          <rect x="${LEFT + k * 110}" y="6" width="10" height="10" fill="${s.color}" />
          <text x="${LEFT + 14 + k * 110}" y="15" font-size="12">${s.name} (${sum(s.values)})</text>
          <polyline
            fill="none"
            stroke="${s.color}"
            stroke-width="2"
            points="${s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')}"
          />
          ${s.values.map(
            (v, i) =>
              html`<circle cx="${x(i)}" cy="${y(v)}" r="${v ? 3 : 1.5}" fill="${s.color}">
                <title>${s.name} ${bucketLabel(at(i), c.bucketMs, true)}: ${v}</title>
              </circle>`,
          )}
        </g>`,
    )}
  </svg>`;
}

/** The chart's numbers as a table: a row per series, a column per bucket, and the total. */
export function chartTable(c: TimeChart): SafeHtml {
  const n = Math.max(0, ...c.series.map((s) => s.values.length));
  const starts = Array.from({ length: n }, (_, i) => new Date(c.since.getTime() + i * c.bucketMs));
  return html`<div class="scroll">
    <table class="chart-data" data-chart="${c.id}">
      <caption class="muted">
        ${c.title} (UTC bucket starts)
      </caption>
      <thead>
        <tr>
          <th scope="col">Series</th>
          ${starts.map((d) => html`<th scope="col">${bucketLabel(d, c.bucketMs)}</th>`)}
          <th scope="col">Total</th>
        </tr>
      </thead>
      <tbody>
        ${c.series.map(
          (s) =>
            html`<tr data-series="${s.name}">
              <th scope="row">${s.name}</th>
              ${s.values.map((v) => html`<td>${v}</td>`)}
              <td><b>${sum(s.values)}</b></td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
