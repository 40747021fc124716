/** `scheme://` — where a URL, and so possibly its user info, starts. */
const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi;
/** `password=…`, `pass=…`, `pwd=…` in a query string or a key/value connection string. */
const PASSWORD_PARAM =
  /(\b(?:password|passwd|pass|pwd)=)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^&\s;]*)/gi;

/**
 * Where the user info of the URL whose authority starts at `from` ends (the index of its `@`), or
 * -1 when it has none. A host never holds `@`, while a password may hold spaces, `/`, `?`, `#` and
 * `@`: the user info therefore runs to the last `@` before the end of the line or the next URL.
 */
function userInfoEnd(text: string, from: number, to: number): number {
  const lineEnd = text.slice(from, to).search(/[\r\n]/);
  const end = lineEnd === -1 ? to : from + lineEnd;
  const at = text.lastIndexOf('@', end - 1);
  return at >= from ? at : -1;
}

/**
 * Removes credentials from text that may carry a connection string before it reaches an error or a
 * log line: a URL's whole user info (`scheme://***@host`, whatever characters the user name or
 * password hold — spaces, `/`, `@` included) and `password=` parameters (quoted values whole).
 *
 * In free text, everything from `scheme://` to the last `@` on the same line (before any next
 * URL) is taken as user info: this may hide more than the credentials, never less.
 */
export function redactUrl(text: string): string {
  const urls = [...text.matchAll(SCHEME)].map((m) => ({
    start: m.index ?? 0,
    from: (m.index ?? 0) + m[0].length,
  }));
  let out = '';
  let done = 0;
  urls.forEach(({ from }, i) => {
    const to = i + 1 < urls.length ? urls[i + 1].start : text.length;
    if (from < done) return;
    const at = userInfoEnd(text, from, to);
    if (at === -1) return;
    out += `${text.slice(done, from)}***`;
    done = at;
  });
  out += text.slice(done);
  return out.replace(PASSWORD_PARAM, '$1***');
}
