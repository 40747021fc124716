import { TRY_IT_KEY, tryItCommands } from './try-it.js';

/** `text` with the five HTML-significant characters escaped. */
function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** Streams `/orders/<key>/progress` (Server-Sent Events) into the page's log, safely as text. */
const WATCH_SCRIPT = `
const form = document.getElementById('watch');
const log = document.getElementById('log');
let source;
form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (source) source.close();
  log.textContent = '';
  const key = form.elements.key.value;
  source = new EventSource('/orders/' + encodeURIComponent(key) + '/progress');
  const show = (line) => { log.textContent += line + '\\n'; };
  source.addEventListener('state', (m) => show('state  ' + JSON.parse(m.data).state));
  source.addEventListener('step', (m) => show('done   ' + JSON.parse(m.data).step));
  source.addEventListener('event', (m) => { const d = JSON.parse(m.data); show('event  ' + d.name + ' = ' + JSON.stringify(d.value)); });
  source.onerror = () => { show('(stream closed)'); source.close(); };
});`;

/**
 * The sample app's landing page: what it does, the three commands of the tour against `origin`,
 * a live view of an order's progress and a link to the dashboard. `origin` is escaped.
 */
export function landingPage(origin: string): string {
  const steps = tryItCommands(origin)
    .map((c) => `<li>${escapeHtml(c.what)}<pre><code>${escapeHtml(c.command)}</code></pre></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ChronoForge sample shop</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1f2937; }
pre { background: #f3f4f6; padding: .6rem .8rem; overflow-x: auto; border-radius: 6px; }
#log { min-height: 6rem; }
</style>
</head>
<body>
<h1>ChronoForge sample shop</h1>
<p>A NestJS app whose orders are durable workflows (<code>orders.fulfil</code>): reserve stock,
charge the card, pack every line in a child workflow, wait for the parcel, sleep through a
cool-off, ship, remind the customer until the delivery is confirmed, then thank them. Stop the
process at any point and start it again: each run picks up where it was.</p>
<h2>Try it</h2>
<ol>
${steps}
</ol>
<h2>Watch an order live</h2>
<form id="watch"><label>Run key <input name="key" value="${escapeHtml(TRY_IT_KEY)}"></label>
<button type="submit">Watch</button></form>
<pre id="log" aria-live="polite"></pre>
<p>Or from a terminal: <code>${escapeHtml(`curl -N ${origin}/orders/${TRY_IT_KEY}/progress`)}</code></p>
<h2>Look inside</h2>
<p><a href="/chronoforge">The ChronoForge dashboard</a> (runs, steps, errors, schedules): start the app
with <code>CHRONOFORGE_DASHBOARD=open</code> to view it locally, or send the
<code>x-dashboard-token</code> header. Prometheus metrics: <a href="/metrics">/metrics</a>.</p>
<script>${WATCH_SCRIPT}</script>
</body>
</html>
`;
}
