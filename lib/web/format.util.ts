import { html, preText, type SafeHtml } from './html.util.js';

/** Longest JSON a page prints in full. */
const MAX_JSON_CHARS = 20_000;

/** A time as ISO text in a `<time>` element, with a relative hint ("3m ago", "in 5s"). */
export function when(value: Date | string | number | null | undefined, now = Date.now()): SafeHtml {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return html`<span class="muted">${String(value)}</span>`;
  const delta = date.getTime() - now;
  const rel = delta >= 0 ? `in ${span(delta)}` : `${span(-delta)} ago`;
  return html`<time datetime="${date.toISOString()}" title="${rel}"
      >${date.toISOString().replace('T', ' ').replace('Z', ' UTC')}</time
    >
    <span class="muted">(${rel})</span>`;
}

/** A duration in ms as compact text: `850ms`, `12.3s`, `4m 10s`, `2h 5m`, `3d 4h`. */
export function span(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** The time between two timestamps, or `—`. */
export function between(start: Date | null | undefined, end: Date | null | undefined): string {
  return start && end ? span(new Date(end).getTime() - new Date(start).getTime()) : '—';
}

/** `text` cut at `max` characters, saying how long it was. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length} characters)` : text;
}

/** Pretty JSON in a `<pre>`, cut at `max` characters (default {@link MAX_JSON_CHARS}). */
export function json(value: unknown, max = MAX_JSON_CHARS): SafeHtml {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? 'undefined';
  } catch {
    text = String(value);
  }
  return html`<pre class="json">${preText(clip(text, max))}</pre>`;
}
