import os from 'node:os';
import type { BenchRow, Guard } from './support.js';
import { fmt } from './support.js';

/**
 * Gross-regression guards. A row may carry guards (`BenchRow.guards`): a number it measured and
 * the limit past which it is a gross regression, never a noisy miss of its goal. The limit is 2×
 * the goal where today's code meets it, and 2× the value recorded in bench/RESULTS.md where it
 * does not yet (a goal 2× away from today would fail every run). Counts of statements are exact,
 * so they guard best; side-by-side ratios (engine vs raw, same run) hold under load; absolute
 * times do not (wake-up lateness at load 16 on 2 cores: p99 1.2 s), so those guard only against
 * what no load explains (a wake-up left to the recovery sweep).
 */
export function guard(value: number, limit: number, better: Guard['better'], what: string): Guard {
  return { value, limit, better, what };
}

/** True when the guard's value is past its limit (NaN, a missing measurement, counts as past). */
export function breached(g: Guard): boolean {
  if (!Number.isFinite(g.value)) return true;
  return g.better === 'lower' ? g.value > g.limit : g.value < g.limit;
}

export const grossRegressions = (rows: BenchRow[]): BenchRow[] =>
  rows.filter((r) => (r.guards ?? []).some(breached));

function guardText(g: Guard): string {
  const op = g.better === 'lower' ? '≤' : '≥';
  const verdict = breached(g) ? 'GROSS REGRESSION' : 'ok';
  return `${g.what} ${fmt(g.value, 3)} (limit ${op} ${fmt(g.limit, 3)}) ${verdict}`;
}

/** The machine's load now (`uptime`'s 1/5/15 min averages): print it with every number. */
export const loadNow = (): string =>
  os
    .loadavg()
    .map((l) => fmt(l))
    .join(' ');

/**
 * One line per row: name, value, baseline, ratio, goal, met, the guards, and the load it was
 * measured at. Grep-able: every line starts with "SUMMARY".
 */
export function summaryLine(row: BenchRow, load: string): string {
  const guards = (row.guards ?? []).map(guardText).join('; ');
  return [
    `SUMMARY ${row.name}`,
    `value ${row.measured}`,
    `baseline ${row.baseline || '-'}`,
    `ratio ${row.ratio || '-'}`,
    `goal ${row.goal || '-'}`,
    `met ${row.met}`,
    `guard ${guards || '-'}`,
    `load ${load}`,
  ].join(' | ');
}
