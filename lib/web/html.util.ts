import { escapeControlChars } from '../util/control-chars.util.js';

/** A fragment of HTML that is already safe: interpolating it into {@link html} keeps it as is. */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/** What {@link html} accepts in `${…}`: text is escaped, fragments and lists are inserted. */
export type HtmlValue =
  SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/**
 * Escapes text for HTML element content and quoted attribute values. Control and bidirectional
 * characters are shown as `\uXXXX` text, so a run key cannot reorder what the page shows
 * (U+202E) or hide characters.
 */
export function escapeHtml(text: string): string {
  return escapeControlChars(text).replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

/**
 * Text for a `<pre>` block: escaped like {@link escapeHtml} line by line, its line breaks kept
 * (pretty JSON, backtraces); every other control character is still shown as `\uXXXX`.
 */
export function preText(text: string): SafeHtml {
  return new SafeHtml(text.split('\n').map(escapeHtml).join('\n'));
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * Tagged template for HTML: every interpolated value is escaped unless it is a {@link SafeHtml}
 * (another `html` fragment); arrays are rendered item by item; `null`, `undefined` and `false`
 * render nothing. Attribute values must be quoted in the template.
 *
 * @example
 * ```ts
 * html`<a href="${url}">${run.key}</a>`; // key "<b>" renders as &lt;b&gt;
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Marks a trusted constant (never user data) as HTML. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Builds `base` + `path` with a query string of the defined, non-empty `params`. */
export function href(
  base: string,
  path: string,
  params: Record<string, string | number | undefined | null> = {},
): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') query.set(k, String(v));
  const qs = query.toString();
  return `${base}${path}${qs ? `?${qs}` : ''}`;
}

/** `encodeURIComponent` for one path segment. */
export const seg = (value: string | number): string => encodeURIComponent(String(value));

/** A table's `<tbody>`: the rows, or one muted row saying `empty` across `columns` cells. */
export function tableBody(rows: readonly SafeHtml[], columns: number, empty: string): SafeHtml {
  return html`<tbody>
    ${
      rows.length
        ? rows
        : html`<tr>
            <td colspan="${columns}" class="muted">${empty}</td>
          </tr>`
    }
  </tbody>`;
}

/** A table's `<thead>`: one header row of `headers` (a `false` entry is left out). */
export function thead(headers: readonly (string | false)[]): SafeHtml {
  const shown = headers.filter((h): h is string => h !== false);
  return html`<thead>
    <tr>
      ${shown.map((h) => html`<th>${h}</th>`)}
    </tr>
  </thead>`;
}
