import { describe, expect, it } from 'vitest';
import { json } from '../../lib/web/format.util.js';
import { escapeHtml, href, html, preText, tableBody, trusted } from '../../lib/web/html.util.js';

/** The markup without the whitespace between tags (the templates are formatted by Prettier). */
const squash = (markup: { value: string }) => markup.value.replace(/>\s+</g, '><').trim();

describe('dashboard html helpers', () => {
  it('should escape interpolated text and keep fragments', () => {
    const key = '<img src=x onerror="alert(1)">`';
    expect(html`<td>${key}</td>`.value).toBe(`<td>${escapeHtml(key)}</td>`);
    expect(html`<td>${key}</td>`.value).not.toContain('<img');
    expect(html`<p>${html`<b>${'a&b'}</b>`}</p>`.value).toBe('<p><b>a&amp;b</b></p>');
    expect(html`${[trusted('<i>'), 'x<', null, undefined, false, 0]}`.value).toBe('<i>x&lt;0');
  });

  it('should render the rows of a table body, or one empty row across every column', () => {
    const rows = [
      html`<tr>
        <td>${'a<'}</td>
      </tr>`,
      html`<tr>
        <td>b</td>
      </tr>`,
    ];
    expect(squash(tableBody(rows, 3, 'None.'))).toBe(
      '<tbody><tr><td>a&lt;</td></tr><tr><td>b</td></tr></tbody>',
    );
    expect(squash(tableBody([], 3, 'No <runs> yet.'))).toBe(
      '<tbody><tr><td colspan="3" class="muted">No &lt;runs&gt; yet.</td></tr></tbody>',
    );
  });

  it('should build links with only the defined, non-empty parameters', () => {
    expect(href('/cf', '/runs', { state: 'failed', q: '', page: 2, w: null })).toBe(
      '/cf/runs?state=failed&page=2',
    );
    expect(href('/cf', '/runs', { q: 'a b&c' })).toBe('/cf/runs?q=a+b%26c');
    expect(href('/cf', '/')).toBe('/cf/');
  });

  it('should keep the line breaks of pre blocks and show other controls as \\u escapes', () => {
    expect(json({ a: [1] }).value).toBe(
      '<pre class="json">{\n  &quot;a&quot;: [\n    1\n  ]\n}</pre>',
    );
    expect(preText('at <f>\n\u202e\tx').value).toBe('at &lt;f&gt;\n\\u202e\\u0009x');
    expect(escapeHtml('a\nb')).toBe('a\\u000ab'); // keys and other text: every control visible
  });
});
