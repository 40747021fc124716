import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import { WORKER_DEAD_AFTER_MS } from '../persistence/workflow.store.js';
import { assertNewRunKey } from '../definitions/client-arguments.js';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import { type CheckedFork, checkForkInput } from './fork-options.js';
import {
  HISTORY_FORMAT,
  HISTORY_FORMAT_VERSION,
  type RunHistoryExport,
  type WorkflowVersionInfo,
} from './run-history.interface.js';

/** Step logs a fork copies: recorded calls, not branches, merges or repeats (those run again). */
const COPIED = /^(step|wait|wait_until|continue_if|signal)\$/;

/** The client's statements for safe deploys: versions in flight, history export, fork. */
export class DeployQueries {
  constructor(
    private readonly store: WorkflowStore,
    private readonly deadAfterMs: number = WORKER_DEAD_AFTER_MS,
  ) {}

  /** In-flight runs per workflow and version, with the live workers that serve each version. */
  async versions(): Promise<WorkflowVersionInfo[]> {
    return this.store.query<WorkflowVersionInfo>(
      `SELECT w.job_name AS workflow, w.version, count(*)::int AS "inFlight",
         (SELECT count(*)::int FROM ${this.store.workers} k
           WHERE k.heartbeat_at > now() - $1 * interval '1 millisecond'
             AND k.versions ->> w.job_name IS NOT DISTINCT FROM w.version) AS workers
       FROM ${this.store.wf} w
       WHERE w.state IN ('idle', 'running', 'stalled', 'compensating')
       GROUP BY w.job_name, w.version ORDER BY w.job_name, w.version NULLS FIRST`,
      [this.deadAfterMs],
    );
  }

  /** The history of run `id` (see {@link RunHistoryExport}). */
  async export(id: string): Promise<RunHistoryExport> {
    const [run] = await this.store.query<RunHistoryExport['run']>(
      `SELECT id::text, key, job_name AS workflow, version, state, input, context, result, history,
         forked_from::text AS "forkedFrom" FROM ${this.store.wf} WHERE id = $1`,
      [id],
    );
    const steps = await this.store.query<RunHistoryExport['steps'][number]>(
      `SELECT id::text, step_name AS name, state, attempts, result, metadata FROM ${this.store.logs}
       WHERE workflow_id = $1 AND step_name NOT LIKE '$%' AND step_name NOT LIKE 'durably\\_repeat$%$%'
       ORDER BY id`,
      [id],
    );
    const exportedAt = new Date().toISOString();
    return {
      format: HISTORY_FORMAT,
      formatVersion: HISTORY_FORMAT_VERSION,
      exportedAt,
      run,
      steps,
    };
  }

  /**
   * Creates the fork of run `id` (see `WorkflowClient.fork`): a new run of the same workflow and
   * version whose history and completed step logs are the source's before `fromStep`; it starts
   * with the source's search attributes (the calls it executes again set theirs again).
   */
  async fork(
    id: string,
    key: string,
    options: CheckedFork,
    def: Pick<WorkflowDefinition, 'name' | 'inputType'> | undefined,
  ): Promise<{ id: string; key: string }> {
    const from = options.fromStep.includes('$') ? options.fromStep : `step$${options.fromStep}`;
    const source = await this.export(id);
    const history = source.run.history;
    const cut = history ? history.indexOf(from) : source.steps.findIndex((s) => s.name === from);
    if (cut < 0)
      throw new InvalidOptionsError(
        `Run "${key}" has no recorded call "${from}" to fork from; its calls: ${(history ?? source.steps.map((s) => s.name)).filter(Boolean).join(', ')}.`,
      );
    const before = history ? history.slice(0, cut) : source.steps.slice(0, cut).map((s) => s.name);
    const copied = before.filter((n): n is string => n !== null && COPIED.test(n));
    const [{ n }] = await this.store.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.store.wf} WHERE forked_from = $1`,
      [id],
    );
    const newKey = options.newKey ?? `${key}-fork-${n + 1}`;
    assertNewRunKey(newKey);
    await checkForkInput(source.run.workflow, def, newKey, options.input);
    const rows = await this.store.query<{ id: string }>(
      `WITH src AS (SELECT * FROM ${this.store.wf} WHERE id = $1),
       ins AS (
         INSERT INTO ${this.store.wf} (key, job_name, input, max_duration_ms, next_run_at, version, history, forked_from,
           attributes)
         SELECT $2, job_name, CASE WHEN $5 THEN $3::jsonb ELSE input END, max_duration_ms, now(), version, $4::jsonb, id,
           attributes
         FROM src ON CONFLICT (job_name, key) DO NOTHING RETURNING id),
       cp AS (
         INSERT INTO ${this.store.logs} (workflow_id, step_name, state, attempts, started_at,
           last_executed_at, completed_at, result, metadata)
         SELECT ins.id, l.step_name, 'completed', l.attempts, l.started_at, l.last_executed_at,
           l.completed_at, l.result, l.metadata - 'stalls_run'
         FROM ins, ${this.store.logs} l
         WHERE l.workflow_id = $1 AND l.state = 'completed' AND l.step_name = ANY($6::text[]))
       SELECT id::text FROM ins`,
      [
        id,
        newKey,
        JSON.stringify(options.input ?? null),
        history ? JSON.stringify(before) : null,
        options.input !== undefined,
        copied,
      ],
    );
    if (!rows[0])
      throw new InvalidOptionsError(
        `A run of workflow "${source.run.workflow}" with key "${newKey}" exists already; pass another newKey.`,
      );
    return { id: rows[0].id, key: newKey };
  }
}
