import type { GraphNode, WorkflowGraph } from '../data/workflow-graphs.js';
import { span } from '../../web/format.util.js';
import { href, html, type SafeHtml, seg } from '../../web/html.util.js';
import { badge, layout, type ViewContext } from './layout.view.js';

/** Fill of a node by kind: steps blue, timers yellow, signals pink, repeats green, the rest grey. */
const FILLS: Record<string, string> = {
  step: '#dde6ff',
  sleep: '#fff4cc',
  waitUntil: '#fff4cc',
  continueIf: '#fff4cc',
  signal: '#fbe3f1',
  repeat: '#d5f5dd',
  event: '#e7f0ff',
};
const W = 560;
const NODE_H = 34;
const GAP = 22;
const X = 60;
const NODE_W = 360;

/** A node's text: `step reserve ×3`. */
function label(n: GraphNode): string {
  return `${n.kind} ${n.name}${n.count > 1 ? ` ×${n.count}` : ''}`;
}

/** The mark beside a node: a loop for repeats and repeated calls, a fan-out for branches. */
function mark(n: GraphNode, y: number): SafeHtml {
  const right = X + NODE_W;
  const mid = y + NODE_H / 2;
  if (n.kind === 'branch' || n.kind === 'child' || n.kind === 'call')
    return html`<g class="fan" stroke="#6b6b76" fill="none">
      ${[-10, 0, 10].map((d) => html`<line x1="${right}" y1="${mid}" x2="${right + 40}" y2="${mid + d}" />`)}
      <text x="${right + 46}" y="${mid + 4}" font-size="11" fill="#6b6b76" stroke="none">
        ${n.kind === 'branch' ? 'spawns children' : 'child run'}
      </text>
    </g>`;
  if (n.kind === 'repeat' || n.count > 1)
    return html`<g class="loop">
      <path
        d="M ${right} ${y + 8} C ${right + 36} ${y - 4}, ${right + 36} ${y + NODE_H + 4}, ${right} ${y + NODE_H - 8}"
        fill="none"
        stroke="#6b6b76"
        marker-end="url(#arrow)"
      />
      <text x="${right + 36}" y="${mid + 4}" font-size="11" fill="#6b6b76">
        ${n.kind === 'repeat' ? `${n.count} tick log(s)` : `${n.count} times`}
      </text>
    </g>`;
  return html``;
}

/**
 * The path of the sample run as a server-rendered SVG flow: start, one box per durable call (in
 * the order the run made them; calls repeated in a row folded with a count), end. Labelled by its
 * `<title>` and `<desc>`; the same path follows as an ordered list.
 */
export function graphSvg(g: WorkflowGraph): SafeHtml {
  const nodes = g.path;
  const top = (i: number) => 40 + i * (NODE_H + GAP);
  const end = top(nodes.length);
  const height = end + 40;
  const cx = X + NODE_W / 2;
  const desc = nodes.length
    ? `${g.workflow} as run ${g.sample?.key ?? ''} made its durable calls: ${nodes.map(label).join(' → ')}.`
    : `${g.workflow}: no recorded durable call yet.`;
  return html`<svg
    class="graph"
    role="img"
    viewBox="0 0 ${W} ${height}"
    width="${W}"
    height="${height}"
    aria-labelledby="graph-title graph-desc"
  >
    <title id="graph-title">Definition graph of ${g.workflow}</title>
    <desc id="graph-desc">${desc}</desc>
    <defs>
      <marker
        id="arrow"
        viewBox="0 0 10 10"
        refX="9"
        refY="5"
        markerWidth="7"
        markerHeight="7"
        orient="auto"
      >
        <path d="M0,0 L10,5 L0,10 z" fill="#6b6b76" />
      </marker>
    </defs>
    <circle cx="${cx}" cy="18" r="9" fill="#1d1d22"><title>start</title></circle>
    ${nodes.map((n, i) => {
      const y = top(i);
      return html`<g
        class="node"
        data-kind="${n.kind}"
        data-name="${n.name}"
        data-state="${n.state}"
      >
        <title>${label(n)} (${n.state})</title>
        <line
          x1="${cx}"
          y1="${y - GAP + (i ? 0 : 9)}"
          x2="${cx}"
          y2="${y - 1}"
          stroke="#6b6b76"
          marker-end="url(#arrow)"
        />
        <rect
          x="${X}"
          y="${y}"
          width="${NODE_W}"
          height="${NODE_H}"
          rx="6"
          fill="${FILLS[n.kind] ?? '#e4e4ea'}"
          stroke="${n.state === 'pending' ? '#3546c8' : '#b8b8c4'}"
          stroke-width="${n.state === 'pending' ? 2 : 1}"
        />
        <text x="${X + 10}" y="${y + 21}" font-size="13"
          ><tspan font-weight="600">${n.kind}</tspan>
          ${n.name}${n.count > 1 ? ` ×${n.count}` : ''}</text
        >
        ${mark(n, y)}
      </g>`;
    })}
    <line
      x1="${cx}"
      y1="${end - GAP}"
      x2="${cx}"
      y2="${end + 8}"
      stroke="#6b6b76"
      marker-end="url(#arrow)"
    />
    <circle cx="${cx}" cy="${end + 18}" r="9" fill="#fff" stroke="#1d1d22" stroke-width="3">
      <title>end (${g.sample?.state ?? 'no run'})</title>
    </circle>
  </svg>`;
}

/** The workflow's definition: its class's durable methods, signals, rules and cleanup. */
function declaredList(g: WorkflowGraph): SafeHtml {
  if (!g.where)
    return html`<p class="muted">
      This process does not register <b>${g.workflow}</b>: only the path of a stored run is shown.
    </p>`;
  const cls = g.where.split('#')[0];
  const items = (kind: string) => g.declared.filter((d) => d.kind === kind);
  const used = (kind: string, name: string) =>
    g.path.some((n) => n.kind === kind && n.name === name);
  const group = (title: string, kind: string) =>
    html`<li>
      ${title}
      <ul>
        ${
          items(kind).length
            ? items(kind).map(
                (d) =>
                  html`<li data-declared="${d.kind}">
                    <code>${d.name}</code>
                    ${used(d.kind, d.name) ? html`<b data-used="yes">in the path</b>` : ''}
                    <span class="muted"
                      >(${d.method}${d.detail.length ? `; ${d.detail.join(', ')}` : ''})</span
                    >
                  </li>`,
              )
            : html`<li class="muted">none on ${cls}</li>`
        }
      </ul>
    </li>`;
  return html`<ul class="declared">
    <li>
      Method
      <code>${g.where}</code
      >${g.version ? html`, version <code>${g.version}</code>` : ''}${g.maxDurationMs ? `, max duration ${span(g.maxDurationMs)}` : ''}
    </li>
    <li>
      Durable methods declared on ${cls}
      <span class="muted"
        >(any workflow of the class may call them; steps on other providers appear in the path
        only)</span
      >
      <ul>
        ${group('Steps (@DurableStep)', 'step')} ${group('Repeats (@Repeat)', 'repeat')}
        ${group('Branches (@Branch)', 'branch')}
      </ul>
    </li>
    <li>
      Signals with a payload DTO
      <ul>
        ${g.signals.length ? g.signals.map((s) => html`<li data-declared="signal"><code>${s.name}</code> <span class="muted">(${s.dto})</span></li>`) : html`<li class="muted">none declared</li>`}
      </ul>
    </li>
    <li>
      Start rules: ${g.rules.length ? g.rules.join(', ') : html`<span class="muted">none</span>`}
    </li>
    <li>
      On cancel:
      ${g.onCancel ? html`<code>${g.onCancel}</code>` : html`<span class="muted">no cleanup</span>`}
    </li>
  </ul>`;
}

/** The definition graph page of a workflow. */
export function graphView(ctx: ViewContext, g: WorkflowGraph): SafeHtml {
  const run = g.sample;
  const content = html`<h1>Workflow ${g.workflow}</h1>
    <p class="crumbs">
      <a href="${href(ctx.base, '/runs', { workflow: g.workflow })}">Its runs</a> ·
      <a href="${href(ctx.base, '/analytics', { workflow: g.workflow })}">Analytics</a>
    </p>
    <h2>Definition</h2>
    ${declaredList(g)}
    <h2>Path of a run</h2>
    <p class="muted">
      ${
        run
          ? html`The durable calls of run
              <a href="${`${ctx.base}/runs/${seg(run.id)}`}">${run.key}</a> ${badge(run.state)} in
              the order it made them (the newest completed run, else the newest): steps, timers,
              signals, repeats, branches and child runs. Code paths it did not take are not shown.`
          : 'No run yet: start one to see the path its durable calls take.'
      }
    </p>
    <div class="scroll">${graphSvg(g)}</div>
    <ol class="graph-path">
      ${g.path.map((n) => html`<li data-kind="${n.kind}">${label(n)} <span class="muted">(${n.state})</span></li>`)}
    </ol>`;
  return layout(ctx, 'runs', `Workflow ${g.workflow}`, content);
}
