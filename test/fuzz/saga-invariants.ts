import { type Case, fuzzStats } from './batch.js';
import { ON_CANCEL_NODE } from './fuzz.fixture.js';

/** Steps of `fuzz.saga` that have a compensation: `sagaWork`, `sagaTxWork` and inline `s_<id>`. */
const COMPENSATED = `(starts_with(e.step_name, 'step$sagaWork') OR starts_with(e.step_name, 'step$sagaTxWork')
  OR starts_with(e.step_name, 'step$s_'))`;

interface LedgerRow {
  root: string;
  node: string;
  step: string;
  pass: string;
  owner: string;
  holder: string | null;
  run_state: string | null;
}

type Query = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * The rollback invariants of saga programs (`fuzz.saga`). A run that rolled back (`compensated`)
 * compensated exactly its completed compensated steps — each compensation's body ran exactly once
 * (at least once in a run a fault struck; exactly once when transactional), last completed step
 * first — and a cancelled saga had none to compensate; a cancelled saga ran its `@OnCancel()`
 * cleanup once (at least once in a run a fault struck), and no other saga ran it. No forward step
 * body ran in a rollback pass, no compensation body outside one, and nothing was compensated in a
 * run that did not roll back.
 */
export async function checkSagas(
  q: Query,
  schema: string,
  cases: Case[],
  ledger: LedgerRow[],
  faultyOf: (c: Case) => boolean,
  report: (root: string, what: string) => void,
): Promise<void> {
  const s = `"${schema}"`;
  const sagas = cases.filter((c) => c.program.saga);
  if (sagas.length === 0) return;
  const logs = await q<{ key: string; state: string; step_name: string; log_state: string }>(
    `SELECT w.key, w.state, e.step_name, e.state AS log_state FROM ${s}.chrono_forge_execution_logs e
     JOIN ${s}.chrono_forge_workflows w ON w.id = e.workflow_id
     WHERE w.key = ANY($1::text[]) AND (${COMPENSATED} OR starts_with(e.step_name, '$compensate$'))
     ORDER BY e.completed_at DESC NULLS LAST, e.id DESC`,
    [sagas.map((c) => c.key)],
  );
  for (const c of sagas) {
    const mine = logs.filter((l) => l.key === c.key);
    const state = mine[0]?.state;
    const done = mine.filter((l) => !l.step_name.startsWith('$') && l.log_state === 'completed');
    const undone = mine.filter((l) => l.step_name.startsWith('$compensate$'));
    const rows = ledger.filter((r) => r.root === c.key);
    const undoRows = rows.filter((r) => r.node.endsWith('.undo') && r.node !== ON_CANCEL_NODE);
    // The @OnCancel cleanup: once per successful cancel (at least once if a fault struck), never
    // otherwise.
    const cleanups = rows.filter((r) => r.node === ON_CANCEL_NODE).length;
    if (c.cancel === 'ok' ? cleanups < 1 || (cleanups > 1 && !faultyOf(c)) : cleanups > 0)
      report(c.key, `@OnCancel cleanup ran ${cleanups}x (cancel ${c.cancel ?? 'none'})`);
    if (state === 'cancelled' && done.length > 0)
      report(c.key, `cancelled with ${done.length} completed compensated step(s) not undone`);
    if (state !== 'compensated') {
      if (undone.length > 0 || undoRows.length > 0)
        report(c.key, `state ${state ?? '?'}, yet ${undoRows.length} compensation bodies ran`);
      continue;
    }
    fuzzStats.compensated++;
    // Expected rollback order: the completed steps, last completed first.
    const expected = done.map((l) => l.step_name);
    const compensated = undone.filter((l) => l.log_state === 'completed');
    const missing = expected.filter((n) => !compensated.some((u) => u.step_name.endsWith(n)));
    if (missing.length > 0 || compensated.length !== expected.length)
      report(c.key, `compensated ${compensated.map((u) => u.step_name)}; completed ${expected}`);
    const firstRun: string[] = [];
    for (const r of undoRows) if (!firstRun.includes(r.step)) firstRun.push(r.step);
    const order = expected.map((n) => `$compensate$${n}`);
    if (firstRun.join() !== order.join())
      report(c.key, `compensation bodies ran in the order ${firstRun}; expected ${order}`);
    for (const step of order) {
      const n = undoRows.filter((r) => r.step === step).length;
      const exact = step.includes('sagaTxWork') || !faultyOf(c);
      if (n < 1 || (exact && n > 1)) report(c.key, `compensation ${step} ran ${n}x`);
    }
    for (const r of rows) {
      if (r.holder !== r.owner) continue;
      const inRollback = r.run_state === 'compensating';
      if (inRollback !== r.node.endsWith('.undo'))
        report(c.key, `body ${r.node} (${r.step}) ran with the run ${r.run_state}`);
    }
  }
}
