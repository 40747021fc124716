import { isDeepStrictEqual } from 'node:util';
import { deserializeValue } from '../../lib/util/serialization.util.js';
import { type BatchEnv, type Case, fuzzStats } from './batch.js';
import { firedFaultsSql } from './db-faults.js';
import type { LoggedFault } from './engine-log.js';
import { printProgram } from './print.js';
import type { Stmt } from './program.js';
import { checkCheckpointAnswers } from './checkpoint-answers.js';
import { checkCommits } from './commit-invariants.js';
import { checkLimits } from './limit-invariants.js';
import { checkSagas } from './saga-invariants.js';

interface RunRow {
  key: string;
  state: string;
  result: unknown;
  context: Record<string, unknown> | null;
  attributes: Record<string, unknown>;
  next_run_at: Date | null;
  locked_by: string | null;
}

interface LedgerRow {
  root: string;
  key: string;
  node: string;
  step: string;
  pid: number;
  pass: string;
  owner: string;
  holder: string | null;
  run_state: string | null;
  at: Date;
}

/** The largest number of step bodies the program starts at once (Promise.all). */
function parallelWidth(body: Stmt[]): number {
  return Math.max(
    1,
    ...body.map((s) =>
      s.k === 'all' ? s.items.length : s.k === 'try' ? parallelWidth(s.body) : 1,
    ),
  );
}

/** Nodes whose body runs inside another step's body (nested calls). */
function innerNodes(body: Stmt[]): string[] {
  return body.flatMap((s) =>
    s.k === 'nested' ? [s.innerId] : s.k === 'try' ? innerNodes(s.body) : [],
  );
}

/**
 * The invariants, checked once a batch settled. Per run: it reached the state the model predicts
 * (completed, or cancelled when the driver's cancel succeeded; nothing left stuck), with the
 * model's result and durable state; each ledger node ran exactly as often as the model says (more
 * only when a fault struck the run: a failed statement — injected, or a refused connection the
 * engine logged — or a killed worker; fewer only after a cancel); transactional bodies exactly once. Per body: it ran holding its run's lock (so never
 * after a cancel, never in a superseded pass), never started after its own step log committed,
 * and two passes over one run never overlap; every completed step log has its body in the ledger.
 */
export async function checkBatch(
  env: BatchEnv,
  cases: Case[],
  prefix: string,
  startedAt: number,
): Promise<string[]> {
  const s = `"${env.schema}"`;
  const q = async <R extends object>(text: string, values: unknown[] = []): Promise<R[]> =>
    (await env.db.query<R & Record<string, unknown>>(text, values)).rows;
  const runs = new Map(
    (
      await q<RunRow>(
        `SELECT key, state, result, context, attributes, next_run_at, locked_by FROM ${s}.chrono_forge_workflows
         WHERE starts_with(key, $1)`,
        [prefix],
      )
    ).map((r) => [r.key, r]),
  );
  const ledger = await q<LedgerRow>(
    `SELECT root, key, node, step, pid, pass, owner, holder, run_state, at FROM ${s}.fuzz_ledger
     WHERE starts_with(root, $1) ORDER BY id`,
    [prefix],
  );
  const fired = new Set(
    (await q<{ id: string; fired: boolean }>(firedFaultsSql(env.schema), [cases.map((c) => c.id)]))
      .filter((r) => r.fired)
      .map((r) => r.id),
  );
  // Faults nobody injected (a busy shared server refusing connections) explain a body run again
  // too, like an injected one; a fault whose cause is neither is a defect. Children's faults count
  // for their root, whose ledger holds their bodies.
  const allFaults = env.engineFaults?.() ?? [];
  fuzzStats.commitFaults = allFaults.filter((f) => /fuzz fault: commit/.test(f.cause)).length;
  const logged = allFaults.filter((f) => f.kind !== 'injected');
  const faultRoots = new Map<string, LoggedFault[]>();
  if (logged.length > 0) {
    const keys = await q<{ id: string; key: string }>(
      `SELECT id::text AS id, key FROM ${s}.chrono_forge_workflows WHERE id = ANY($1::bigint[]) AND starts_with(key, $2)`,
      [[...new Set(logged.map((f) => f.runId))], prefix],
    );
    for (const { id, key } of keys) {
      const root = key.split('$')[0];
      faultRoots.set(root, [
        ...(faultRoots.get(root) ?? []),
        ...logged.filter((f) => f.runId === id),
      ]);
    }
  }
  const killed = env.killedPids();
  // A lease program's passes are taken over while they run: a body may run again, as after a crash.
  const faultyOf = (c: Case): boolean =>
    c.program.lease === true ||
    fired.has(c.id) ||
    ledger.some((r) => r.root === c.key && killed.has(r.pid)) ||
    (faultRoots.get(c.key) ?? []).some((f) => f.kind === 'infrastructure');
  fuzzStats.sqlFired += fired.size;
  fuzzStats.killed = Math.max(fuzzStats.killed, killed.size);
  const problems = new Map<string, string[]>();
  const report = (root: string, what: string) =>
    problems.set(root, [...(problems.get(root) ?? []), what]);

  // Body-level invariants over the whole batch. A body that starts while its pass no longer holds
  // the lock (a cancel or a takeover committed meanwhile) is tolerated only as the race it cannot
  // avoid: the pass learns of the loss at its next write, so per pass at most one body (or one
  // Promise.all group) may start unfenced; a pass that keeps starting bodies is a defect.
  const widths = new Map(cases.map((c) => [c.key, parallelWidth(c.program.body)]));
  const inner = new Set(
    cases.flatMap((c) => innerNodes(c.program.body).map((n) => `${c.key}/${n}`)),
  );
  const unfenced = new Map<string, LedgerRow[]>();
  for (const r of ledger) {
    if (r.holder === r.owner || inner.has(`${r.root}/${r.node}`)) continue;
    unfenced.set(r.pass, [...(unfenced.get(r.pass) ?? []), r]);
  }
  for (const rows of unfenced.values()) {
    const width = widths.get(rows[0].root) ?? 1;
    if (rows.length <= width) continue;
    const what = rows.map((r) => `${r.node} (${r.step}, run ${r.run_state}, holder ${r.holder})`);
    report(
      rows[0].root,
      `${rows.length} step bodies started in one pass of ${rows[0].key} after it lost the lock ` +
        `(cancel or takeover; at most ${width} may race it): ${what.join(', ')}; pass owner ${rows[0].owner}`,
    );
  }
  // A lease program's stale pass runs on beside its successor until its next write is refused
  // (what it may start meanwhile is bounded by the unfenced-bodies check above): its passes may
  // overlap, and its racing body (not holding the lock) may start after the successor recorded it.
  const leased = new Set(cases.filter((c) => c.program.lease).map((c) => c.key));
  const afterCommit = await q<{ root: string; node: string; step: string; fenced: boolean }>(
    `SELECT l.root, l.node, l.step, l.holder IS NOT DISTINCT FROM l.owner AS fenced FROM ${s}.fuzz_ledger l
     JOIN ${s}.chrono_forge_workflows w ON w.key = l.key
     JOIN ${s}.chrono_forge_execution_logs e ON e.workflow_id = w.id AND e.step_name = l.step AND e.state = 'completed'
     WHERE starts_with(l.root, $1) AND l.at > e.completed_at
       -- a transactional body's row and its checkpoint share one transaction (completed_at = its start)
       AND NOT starts_with(l.step, 'step$txWork') AND NOT starts_with(l.step, 'step$sagaTxWork')
       AND NOT starts_with(l.step, '$compensate$step$sagaTxWork')`,
    [prefix],
  );
  for (const r of afterCommit)
    if (r.fenced || !leased.has(r.root))
      report(r.root, `body started after its step log committed: ${r.node} (${r.step})`);
  const overlapping = await q<{ root: string; key: string; a: string; b: string }>(
    `WITH p AS (SELECT root, key, pass, min(at) AS t0, max(at) AS t1 FROM ${s}.fuzz_ledger
       WHERE starts_with(root, $1) GROUP BY root, key, pass)
     SELECT a.root, a.key, a.pass AS a, b.pass AS b FROM p a JOIN p b ON a.key = b.key AND a.pass < b.pass
     WHERE a.t0 <= b.t1 AND b.t0 <= a.t1`,
    [prefix],
  );
  for (const r of overlapping)
    if (!leased.has(r.root)) report(r.root, `passes ${r.a} and ${r.b} of ${r.key} overlap`);
  // Lease bodies run again by a successor pass (a takeover while the stale pass ran).
  const firstPass = new Map<string, string>();
  for (const r of ledger.filter((x) => leased.has(x.root))) {
    const seen = firstPass.get(`${r.key}/${r.node}`);
    if (seen === undefined) firstPass.set(`${r.key}/${r.node}`, r.pass);
    else if (seen !== r.pass) fuzzStats.leaseRerun++;
  }
  const missing = await q<{ key: string; step_name: string }>(
    `SELECT w.key, e.step_name FROM ${s}.chrono_forge_execution_logs e
     JOIN ${s}.chrono_forge_workflows w ON w.id = e.workflow_id
     WHERE starts_with(w.key, $1) AND e.state = 'completed'
       AND (e.step_name LIKE 'step$%' OR e.step_name ~ '^durably_repeat\\$tick(#[0-9]+)?\\$[0-9]+$')
       AND NOT EXISTS (SELECT 1 FROM ${s}.fuzz_ledger l WHERE l.key = w.key AND l.step = e.step_name)`,
    [prefix],
  );
  for (const r of missing)
    report(
      r.key.split('$')[0],
      `completed step ${r.step_name} of ${r.key} has no body in the ledger`,
    );

  // Run-level invariants against the model.
  for (const c of cases) {
    const run = runs.get(c.key);
    const rows = ledger.filter((r) => r.root === c.key);
    const faults = faultRoots.get(c.key) ?? [];
    for (const f of faults.filter((x) => x.kind === 'unexplained'))
      report(c.key, `run ${f.runId} faulted for no injected or infrastructure cause: ${f.cause}`);
    if (faults.some((f) => f.kind === 'infrastructure')) fuzzStats.infraFaulted++;
    const faulty = faultyOf(c);
    for (const e of c.actionErrors) report(c.key, `driver action failed: ${e}`);
    // A cancelled saga rolls back: compensated, or cancelled when it had nothing to undo.
    const cancelledSaga = c.cancel === 'ok' && c.program.saga && run?.state === 'compensated';
    const want = cancelledSaga ? 'compensated' : c.cancel === 'ok' ? 'cancelled' : c.model.state;
    if (!run) {
      report(c.key, 'run row missing');
      continue;
    }
    if (run.state !== want) {
      report(
        c.key,
        `state ${run.state}, model says ${want} (next_run_at ${run.next_run_at?.toISOString() ?? null}, locked_by ${run.locked_by})`,
      );
    }
    for (const [k, r] of runs) {
      if (k.startsWith(`${c.key}$`) && c.cancel !== 'ok' && r.state !== 'completed')
        report(c.key, `child ${k} is ${r.state}`);
    }
    if (run.state === 'completed' && want === 'completed') {
      const result = deserializeValue(run.result as never);
      if (!isDeepStrictEqual(result, c.model.result))
        report(
          c.key,
          `result ${JSON.stringify(result)}, model says ${JSON.stringify(c.model.result)}`,
        );
      const context = run.context ?? {};
      if (!isDeepStrictEqual(context, c.model.context))
        report(
          c.key,
          `state ${JSON.stringify(context)}, model says ${JSON.stringify(c.model.context)}`,
        );
      if (!isDeepStrictEqual(run.attributes, c.model.attributes))
        report(
          c.key,
          `attributes ${JSON.stringify(run.attributes)}, model says ${JSON.stringify(c.model.attributes)}`,
        );
    }
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
    for (const [node, n] of counts) {
      if (c.program.saga && node.endsWith('.undo')) continue; // see checkSagas
      const expected = c.model.counts.get(node);
      if (expected === undefined && !c.model.once.has(node))
        report(c.key, `body ${node} ran ${n}x; the model never runs it`);
    }
    if (!['completed', 'cancelled', 'compensated'].includes(run.state)) continue;
    for (const [node, expected] of c.model.counts) {
      const n = counts.get(node) ?? 0;
      const exact = c.model.transactional.has(node) || !faulty;
      if (c.cancel === 'ok') {
        if (n > expected && exact)
          report(c.key, `body ${node} ran ${n}x in a cancelled run, at most ${expected}x expected`);
      } else if (n < expected || (exact && n > expected)) {
        report(
          c.key,
          `body ${node} ran ${n}x, model says ${exact ? '' : 'at least '}${expected}x (no crash${faulty ? '' : ' or fault'} explains it)`,
        );
      }
    }
  }
  await checkSagas(q, env.schema, cases, ledger, faultyOf, report);
  await checkLimits(q, env.schema, cases, prefix, ledger, faultyOf, report);
  const completed = new Set([...runs].filter(([, r]) => r.state === 'completed').map(([k]) => k));
  await checkCommits(q, env.schema, cases, prefix, completed, killed, report);
  await checkCheckpointAnswers(q, env.schema, cases, prefix, ledger, report);
  return [...problems].map(([root, what]) => {
    const c = cases.find((x) => x.key === root);
    const program = c ? printProgram(c.program) : '(unknown program)';
    const log = c && env.engineLog ? env.engineLog(c.id, startedAt) : [];
    const logged = log.length ? `\n  engine log (run id ${c?.id}):\n    ${log.join('\n    ')}` : '';
    return `run ${root} (cancel: ${c?.cancel ?? '-'}, retried: ${c?.fixed ?? '-'}):\n  - ${[...new Set(what)].join('\n  - ')}\n${program}${logged}`;
  });
}
