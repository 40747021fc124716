import { maxInWindow, peakOverlap } from '../support/limit-windows.js';
import { type Case, fuzzStats } from './batch.js';
import { FUZZ_LIMITS, type Stmt } from './program.js';

type Query = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

interface LimitBody {
  root: string;
  node: string;
  lim: 'conc' | 'rate';
  lkey: string;
  ms: number;
  pid: number;
  started_ms: string;
  ended_ms: string | null;
}

interface LedgerRow {
  root: string;
  node: string;
}

const SLOTS = FUZZ_LIMITS['fuzz.conc'].concurrency;
const RATE = FUZZ_LIMITS['fuzz.rate'].rate;
const RATE_WINDOW_MS = 1_000;
if (RATE.per !== '1s') throw new Error('limit-invariants.ts measures the fuzz.rate window as 1 s');

/** The once nodes of a program: node id → once key number. */
function onceNodes(body: Stmt[], into = new Map<string, number>()): Map<string, number> {
  for (const s of body) {
    if (s.k === 'once') into.set(s.id, s.key);
    if (s.k === 'try') onceNodes(s.body, into);
  }
  return into;
}

const groupBy = <T>(rows: T[], key: (r: T) => string): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const r of rows) out.set(key(r), [...(out.get(key(r)) ?? []), r]);
  return out;
};

/**
 * The flow-control invariants of a batch, measured from what the bodies wrote (fuzz_limit_bodies:
 * each limited body's start and end; fuzz_ledger), not from the engine's counters:
 * - `fuzz.conc` (a semaphore of 2 per key): never more than 2 bodies of one key at once. A body
 *   whose worker was SIGKILLed has no end: it counts until it would have ended (its slot is held
 *   longer, until the heartbeat rule frees it).
 * - `fuzz.rate` (3 per 1 s per key): never 4 body starts of one key within any 1 s.
 * - `ctx.once` (per key, 1 h): of all the batch's runs, at most one ran the body of a once key —
 *   more only when a fault struck the run that ran it (its claim is durable: it runs the body
 *   again after a crash until it completes).
 */
export async function checkLimits(
  q: Query,
  schema: string,
  cases: Case[],
  prefix: string,
  ledger: LedgerRow[],
  faultyOf: (c: Case) => boolean,
  report: (root: string, what: string) => void,
): Promise<void> {
  const bodies = await q<LimitBody>(
    `SELECT root, node, lim, lkey, ms, pid, started_ms, ended_ms FROM "${schema}".fuzz_limit_bodies
     WHERE starts_with(root, $1) ORDER BY id`,
    [prefix],
  );
  fuzzStats.limitBodies += bodies.length;
  const describe = (rows: LimitBody[], t0: number) =>
    rows
      .map(
        (b) =>
          `${b.root}/${b.node} +${Number(b.started_ms) - t0}→${b.ended_ms === null ? 'killed' : `+${Number(b.ended_ms) - t0}`} ms`,
      )
      .join(', ');
  for (const [lkey, rows] of groupBy(
    bodies.filter((b) => b.lim === 'conc'),
    (b) => b.lkey,
  )) {
    const spans = rows.map((b) => ({
      from: Number(b.started_ms),
      to: b.ended_ms === null ? Number(b.started_ms) + b.ms : Number(b.ended_ms),
    }));
    const peak = peakOverlap(spans);
    if (peak > SLOTS) {
      const t0 = Math.min(...spans.map((x) => x.from));
      for (const root of new Set(rows.map((b) => b.root)))
        report(
          root,
          `${peak} bodies of fuzz.conc key ${lkey} ran at once (limit ${SLOTS}): ${describe(rows, t0)}`,
        );
    }
  }
  for (const [lkey, rows] of groupBy(
    bodies.filter((b) => b.lim === 'rate'),
    (b) => b.lkey,
  )) {
    const starts = rows.map((b) => Number(b.started_ms));
    const most = maxInWindow(starts, RATE_WINDOW_MS);
    if (most > RATE.limit) {
      const t0 = Math.min(...starts);
      for (const root of new Set(rows.map((b) => b.root)))
        report(
          root,
          `${most} bodies of fuzz.rate key ${lkey} started within ${RATE_WINDOW_MS} ms (limit ${RATE.limit}): ${describe(rows, t0)}`,
        );
    }
  }
  // Once: the bodies of each once key across the batch's runs.
  const byRoot = new Map(cases.map((c) => [c.key, c]));
  const onceOf = new Map(cases.map((c) => [c.key, onceNodes(c.program.body)]));
  const ran = new Map<number, LedgerRow[]>();
  for (const r of ledger) {
    const key = onceOf.get(r.root)?.get(r.node);
    if (key !== undefined) ran.set(key, [...(ran.get(key) ?? []), r]);
  }
  fuzzStats.onceBodies += [...ran.values()].reduce((n, rows) => n + rows.length, 0);
  for (const [key, rows] of ran) {
    const roots = new Set(rows.map((r) => r.root));
    const faulted = [...roots].some((root) => faultyOf(byRoot.get(root)!));
    if (roots.size > 1 || (rows.length > 1 && !faulted))
      for (const root of roots)
        report(
          root,
          `the body of once key o${key} ran ${rows.length}x in ${roots.size} run(s) of the batch: ${rows.map((r) => `${r.root}/${r.node}`).join(', ')}`,
        );
  }
}
