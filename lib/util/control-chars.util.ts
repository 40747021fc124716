/**
 * Characters that change how a terminal or a browser shows text rather than being shown: C0
 * controls (ESC, CR, LF, TAB, …), DEL, C1 controls, the line and paragraph separators and the
 * bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A–E,
 * U+2066–9).
 */
const CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The first control or bidi character of `text`, or undefined. */
export function controlCharOf(text: string): string | undefined {
  CONTROL.lastIndex = 0;
  const match = CONTROL.exec(text);
  CONTROL.lastIndex = 0;
  return match?.[0];
}

/** `\uXXXX`, how a control or bidi character is shown. */
export function codeOf(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control and bidi character written as `\uXXXX`, for a terminal or a log line:
 * a run key cannot move the cursor, recolour the terminal, forge a line or reorder what follows.
 */
export function escapeControlChars(text: string): string {
  return text.replace(CONTROL, codeOf);
}

/** The control and bidi characters JSON.stringify leaves raw inside strings (not C0: it escapes those). */
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text with the control and bidi characters JSON.stringify leaves raw written as `\uXXXX`
 * escapes: still the same JSON, now safe to print. Its own whitespace (newlines of pretty JSON)
 * stays as it is.
 */
export function escapeJsonControlChars(json: string): string {
  return json.replace(RAW_IN_JSON, codeOf);
}
