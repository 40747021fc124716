/** `scheme://user:password@`: up to the last `@` before a space (a password may hold `@` or `/`). */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)\S*@/gi;
/** `password=…`, `pass=…`, `pwd=…` in a query string or a key/value connection string. */
const PASSWORD_PARAM = /(\b(?:password|passwd|pass|pwd)=)[^&\s;]*/gi;

/**
 * Removes credentials from text that may carry a connection string (a URL's user info, including
 * a password with an unencoded `/`, and `password=` parameters) before it reaches an error or a
 * log line.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@').replace(PASSWORD_PARAM, '$1***');
}
