import { describe, expect, it } from 'vitest';
import { escapeHtml, href, html, tableBody, trusted } from '../../lib/dashboard/views/html.util.js';

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
});
