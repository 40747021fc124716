import { type CheckpointArgs, isUnreadLogId } from '../../lib/persistence/rows.js';
import type { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import type { Case } from './batch.js';

/**
 * What the store answered each pass's first-attempt checkpoint of a step written outside a
 * transaction (the group-committed kind: alone, or in a multi-row statement beside other passes').
 */
interface Answer {
  runId: string;
  step: string;
  owner: string;
  /** The pass's `startedAt` of the step: the log row it writes stores it. */
  startedAt: number;
  /** The log id answered (`null`: refused, or recorded already). */
  id: string | null;
  /** When the answer reached the pass (`Date.now()`, the clock the ledger's server shares). */
  answeredAt: number;
}

let answers: Answer[] = [];

/** Counts of what {@link checkCheckpointAnswers} saw (printed with the fuzz stats). */
export const answerStats = {
  /** Steps of a run whose first attempt two passes checkpointed (a stale one and its successor). */
  contended: 0,
  /** Of those, checkpoints of the stale pass refused (its successor's log landed). */
  staleRefused: 0,
};

/**
 * Records, on the booted app's store, every pass's first-attempt checkpoint of a step written
 * outside a transaction and its answer. The store's method runs as it is (the wrapper calls
 * through and rethrows); a checkpoint that throws is not recorded (its pass faults and ends).
 */
export function recordCheckpointAnswers(store: WorkflowStore): void {
  const write = store.completeStepWith.bind(store);
  store.completeStepWith = async (c: CheckpointArgs, ...rest: unknown[]) => {
    const runner = rest[0] as Parameters<WorkflowStore['completeStepWith']>[1];
    const id = await write(c, runner);
    if (c.fresh && !runner && c.stepName.startsWith('step$'))
      answers.push({
        runId: c.workflowId,
        step: c.stepName,
        owner: c.owner,
        startedAt: c.startedAt.getTime(),
        id,
        answeredAt: Date.now(),
      });
    return id;
  };
}

type Query = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

interface LedgerRow {
  key: string;
  node: string;
  step: string;
  owner: string;
  holder: string | null;
  at: Date;
}

/**
 * Invariants of refused checkpoints, over the batch's runs (the answers of its passes, the step
 * logs, the ledger): a log is the write of the pass whose `startedAt` it stores (the only pass
 * whose first-attempt INSERT landed).
 *
 * - A pass answered a log id wrote that log (the log stores its start; a stand-in id answers a
 *   checkpoint written alone with no id read back): a stale pass whose checkpoint was fenced out in a
 *   statement that wrote its successor's (commit 1161c9d) is answered `null`, never the owner's id.
 * - A pass that started a step's body before the pass whose checkpoint of it landed (so it had
 *   lost the run to that successor when that landed) starts no body after its own checkpoint of
 *   the step was answered: it ends at the refused checkpoint, rather than run the next bodies
 *   beside the owner. (A pass that started the step after the one whose log landed may go on: it
 *   took the run over from it, and its refused checkpoint finds the log its own.)
 */
export async function checkCheckpointAnswers(
  q: Query,
  schema: string,
  cases: Case[],
  prefix: string,
  ledger: LedgerRow[],
  report: (root: string, what: string) => void,
): Promise<void> {
  const s = `"${schema}"`;
  const runs = new Map(
    (
      await q<{ id: string; key: string }>(
        `SELECT id::text AS id, key FROM ${s}.chrono_forge_workflows WHERE starts_with(key, $1)`,
        [prefix],
      )
    ).map((r) => [r.id, r.key]),
  );
  const mine = answers.filter((a) => runs.has(a.runId));
  answers = answers.filter((a) => !runs.has(a.runId));
  if (mine.length === 0) return;
  const logs = new Map(
    (
      await q<{ run: string; step: string; id: string; started_at: Date }>(
        `SELECT workflow_id::text AS run, step_name AS step, id::text AS id, started_at
         FROM ${s}.chrono_forge_execution_logs
         WHERE workflow_id = ANY($1::bigint[]) AND state = 'completed' AND starts_with(step_name, 'step$')`,
        [[...new Set(mine.map((a) => a.runId))]],
      )
    ).map((l) => [`${l.run}\0${l.step}`, l]),
  );
  const roots = new Set(cases.map((c) => c.key));
  const rootOf = (key: string) => (roots.has(key) ? key : key.split('$')[0]);
  const bySteps = new Map<string, Answer[]>();
  for (const a of mine) {
    const k = `${a.runId}\0${a.step}`;
    bySteps.set(k, [...(bySteps.get(k) ?? []), a]);
  }
  for (const [k, all] of bySteps) {
    const key = runs.get(all[0].runId)!;
    const log = logs.get(k);
    // NOTE: a checkpoint written alone with no id read back is answered a stand-in (see
    // `unreadLogId`): its log is the one that stores its start.
    const landed = (a: Answer) =>
      log !== undefined &&
      (log.id === a.id || (a.id !== null && isUnreadLogId(a.id))) &&
      log.started_at.getTime() === a.startedAt;
    const writer = log && all.find((a) => log.started_at.getTime() === a.startedAt);
    if (all.length > 1) answerStats.contended++;
    for (const a of all) {
      if (a.id !== null && !landed(a))
        report(
          rootOf(key),
          `pass ${a.owner} of ${key} was answered log id ${a.id} for its checkpoint of ${all[0].step}, ` +
            `a log it did not write (${log ? `log ${log.id}, started ${log.started_at.toISOString()}, its own started ${new Date(a.startedAt).toISOString()}` : 'no completed log'})`,
        );
      if (!writer || a === writer || a.startedAt >= writer.startedAt) continue;
      // A stale pass: its successor (started the step after it) wrote the step's log.
      if (a.id === null) answerStats.staleRefused++;
      const after = ledger.filter(
        (r) => r.key === key && r.owner === a.owner && r.at.getTime() > a.answeredAt,
      );
      if (after.length > 0)
        report(
          rootOf(key),
          `stale pass ${a.owner} of ${key} went on past its checkpoint of ${all[0].step} ` +
            `(answered ${a.id ?? 'null'}; the log is the write of its successor ${writer.owner}): ` +
            `started ${after.map((r) => `${r.node} (${r.step}, holder ${r.holder})`).join(', ')}`,
        );
    }
  }
}
