import type { Case } from './batch.js';

/** Ledger steps written inside their step's transaction (`ctx.manager`): forward and compensation. */
const TX_STEP = `(starts_with(#.step, 'step$txWork') OR starts_with(#.step, 'step$sagaTxWork')
  OR starts_with(#.step, '$compensate$step$sagaTxWork'))`;

/** A completed sleep's stored result. */
const SLEPT = JSON.stringify({ json: true });

type Query = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * Invariants of the commit paths, over every run of the batch whatever it ended as (cancelled,
 * taken over, faulted at any statement, COMMIT included):
 *
 * - a transactional step's business write (its ledger row, written through `ctx.manager`) is
 *   committed exactly when its step log is: one row when the log is completed, none otherwise. A
 *   refused checkpoint (lock lost to a cancel or a takeover, or recorded already) must keep the
 *   COMMIT sent with it from running; a failed checkpoint or COMMIT must leave neither.
 * - a completed run's plain sleeps (`wait$z_<id>`) are all completed, and every sleep the model
 *   reaches has one: a sleep an acquire completed and the replay reached stays completed, and one
 *   it put back (a pass that did not reach it) is completed again by the pass that does: a
 *   `wakeMiss` sleep is completed after the throw of the pass that missed it (unless that pass's
 *   worker was SIGKILLed, `killed`).
 */
export async function checkCommits(
  q: Query,
  schema: string,
  cases: Case[],
  prefix: string,
  completed: Set<string>,
  killed: Set<number>,
  report: (root: string, what: string) => void,
): Promise<void> {
  const s = `"${schema}"`;
  const rows = await q<{ key: string; step: string; n: number; log_state: string | null }>(
    `WITH l AS (SELECT key, step, count(*)::int AS n FROM ${s}.fuzz_ledger
         WHERE starts_with(root, $1) AND ${TX_STEP.replaceAll('#', 'fuzz_ledger')} GROUP BY key, step),
       e AS (SELECT w.key, e.step_name AS step, e.state FROM ${s}.chrono_forge_execution_logs e
         JOIN ${s}.chrono_forge_workflows w ON w.id = e.workflow_id
         WHERE starts_with(w.key, $1) AND ${TX_STEP.replaceAll('#.step', 'e.step_name')})
     SELECT COALESCE(l.key, e.key) AS key, COALESCE(l.step, e.step) AS step, COALESCE(l.n, 0) AS n,
       e.state AS log_state
     FROM l FULL JOIN e ON e.key = l.key AND e.step = l.step`,
    [prefix],
  );
  for (const r of rows) {
    const want = r.log_state === 'completed' ? 1 : 0;
    if (r.n !== want)
      report(
        r.key.split('$')[0],
        `transactional step ${r.step} of ${r.key}: ${r.n} business row(s) committed, its log is ` +
          `${r.log_state ?? 'absent'} (must be ${want})`,
      );
  }
  const sleeps = await q<{
    key: string;
    step_name: string;
    state: string;
    result: unknown;
    early: boolean;
    pid2: number | null;
  }>(
    `SELECT w.key, e.step_name, e.state, e.result, e.completed_at < a.at2 AS early, a.pid2
     FROM ${s}.chrono_forge_execution_logs e
     JOIN ${s}.chrono_forge_workflows w ON w.id = e.workflow_id
     LEFT JOIN ${s}.fuzz_attempts a ON a.root = w.key AND 'wait$z_' || a.node = e.step_name
     WHERE starts_with(w.key, $1) AND w.state = 'completed' AND starts_with(e.step_name, 'wait$z_')`,
    [prefix],
  );
  for (const c of cases) {
    if (c.cancel === 'ok' || c.model.state !== 'completed' || !completed.has(c.key)) continue;
    const mine = sleeps.filter((l) => l.key === c.key);
    for (const l of mine)
      if (l.state !== 'completed' || JSON.stringify(l.result) !== SLEPT)
        report(
          c.key,
          `completed run, its sleep ${l.step_name} ${l.state} (${JSON.stringify(l.result)})`,
        );
    // A wakeMiss sleep: the pass whose code threw before it (its 2nd reach) did not reach it, so
    // a completion by that pass's acquire was put back: it was completed after that throw. (Not
    // so in a lease program, whose successor pass may complete it while the stale pass throws, nor
    // when that pass's worker was SIGKILLed before its ending put the sleep back: the completion,
    // of a due sleep, stays, as everything a dead pass wrote does.)
    for (const l of mine)
      if (l.early && !c.program.lease && !(l.pid2 !== null && killed.has(l.pid2)))
        report(c.key, `sleep ${l.step_name} completed before the pass that missed it threw`);
    for (const node of c.model.sleeps)
      if (!mine.some((l) => l.step_name === `wait$z_${node}`))
        report(c.key, `completed run without a log of sleep z_${node}`);
  }
}
