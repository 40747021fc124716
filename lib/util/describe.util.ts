/** Renders any value for an error message without throwing (BigInt, cycles, symbols). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    // fall through: not JSON (BigInt, circular)
  }
  try {
    return `${typeof value} ${String(value)}`.slice(0, 120);
  } catch {
    return typeof value; // e.g. an object without a prototype, or a throwing toString
  }
}
