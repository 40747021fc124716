/**
 * How the limit suites (e2e, chaos, fuzz) measure a limit from what the bodies recorded, not from
 * the engine's counters: the concurrency reached, and the starts within a rate window.
 */

/** A body's run time, in epoch milliseconds. */
export interface Span {
  from: number;
  to: number;
}

/** Most spans open at once (an end before a start at the same millisecond). */
export function peakOverlap(spans: Span[]): number {
  const events = spans.flatMap((s) => [
    { at: s.from, d: 1 },
    { at: s.to, d: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const e of events) peak = Math.max(peak, (now += e.d));
  return peak;
}

/** Most of `starts` within any half-open window of `windowMs`. */
export function maxInWindow(starts: number[], windowMs: number): number {
  const at = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i] - at[j] >= windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
