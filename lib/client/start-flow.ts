import type { PoolClient } from 'pg';
import type { QueryRunner } from 'typeorm';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import type { RunCanceller } from '../sagas/run-canceller.js';
import { flowKeyOf, toPriority } from '../options/flow-options.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/** A run `start` created or found under the workflow's start rules. */
export interface FlowStart {
  id: string;
  /** The key of the run returned: another run's for a skipped singleton start. */
  key: string;
  created: boolean;
  /**
   * The created run's wake-up; for a found run `null`, unless a group-committed insert carrying
   * this start failed ambiguously (see `WorkflowStore.insertRun`): then the caller enqueues it.
   */
  nextRunAt: Date | null;
}

/** What one start asks for. */
export interface FlowStartRequest {
  def: WorkflowDefinition;
  key: string;
  input: unknown;
  timeoutMs: number | null;
  /** The singleton or debounce key, from the validated input (`null`: no such rule). */
  flowKey: string | null;
  priority: number;
  /** The new run's search attributes, checked. */
  attributes: SearchAttributes;
  runner?: QueryRunner;
}

/**
 * `client.start` for workflows with start rules (`singleton`, `debounce`, a `priority`): under a
 * transaction-scoped advisory lock on (workflow, flow key), so concurrent starts of one key decide
 * one after the other, it looks at the key's active runs, then skips, cancels or inserts.
 * Cancellations (`cancelPrevious`, debounced runs) commit on their own, before the new run does.
 */
export class StartFlow {
  private readonly activeSql: string;
  private readonly pendingSql: string;
  private readonly insertSql: string;
  private readonly findSql: string;

  constructor(
    private readonly store: WorkflowStore,
    private readonly canceller: RunCanceller,
  ) {
    const wf = store.wf;
    this.findSql = `SELECT id::text AS id FROM ${wf} WHERE job_name = $1 AND key = $2`;
    this.activeSql = `SELECT id::text AS id, key FROM ${wf}
       WHERE job_name = $1 AND flow_key = $2 AND state IN ('idle', 'running') ORDER BY id`;
    this.pendingSql = `SELECT w.id::text AS id, w.key FROM ${wf} w
       WHERE w.job_name = $1 AND w.flow_key = $2 AND w.state = 'idle' AND w.locked_by IS NULL
         AND w.started_at IS NULL ORDER BY w.id`;
    this.insertSql = `INSERT INTO ${wf} (key, job_name, input, max_duration_ms, next_run_at,
         deadline_at, flow_key, priority, version, attributes)
       VALUES ($1, $2, $3, $4, least(now() + $6::bigint * interval '1 millisecond',
           now() + $5::bigint * interval '1 millisecond'),
         now() + $5::bigint * interval '1 millisecond', $7, $8, $9, $10)
       ON CONFLICT (job_name, key) DO NOTHING RETURNING id::text AS id, next_run_at`;
  }

  /**
   * Starts (or finds) the run of `start(def, options)`; `input` and `attributes` were validated
   * already.
   */
  async start(
    def: WorkflowDefinition,
    options: { key: string; priority?: number },
    input: unknown,
    { timeoutMs, attributes }: { timeoutMs: number | null; attributes: SearchAttributes },
    runner?: QueryRunner,
  ): Promise<FlowStart & { priority: number }> {
    const priority =
      options.priority === undefined
        ? (def.flow?.priority ?? 0)
        : toPriority(options.priority, 'start()');
    const flowKey = def.flow ? flowKeyOf(def.flow, def.toInput(input)) : null;
    const key = options.key;
    if (flowKey === null && priority === 0) {
      const extras = { timeoutMs, version: def.version ?? null, attributes };
      const run = await this.store.insertRun(
        def.name,
        key,
        input,
        def.maxDurationMs,
        runner,
        extras,
      );
      return { ...run, key, priority };
    }
    const req = { def, key, input, timeoutMs, flowKey, priority, attributes, runner };
    return { ...(await this.run(req)), priority };
  }

  private async run(req: FlowStartRequest): Promise<FlowStart> {
    const decided = req.runner
      ? await this.decide(req, (t, v) => this.store.query(t, v, req.runner))
      : await this.store.transaction((client: PoolClient) =>
          this.decide(req, (t, v) => this.store.query(t, v, undefined, client)),
        );
    // After the decision's transaction (never while it holds a connection: the canceller takes
    // its own). A concurrent start of the key may cancel the same runs: the second cancel is a no-op.
    const { def, key } = req;
    const why = def.flow?.debounce ? 'debounced by' : 'superseded by';
    const from = def.flow?.debounce ? ['idle'] : ['idle', 'running'];
    for (const run of decided.superseded)
      await this.canceller.cancel(run.id, { reason: `${why} run ${key}` }, from);
    return decided.start;
  }

  private async decide(
    req: FlowStartRequest,
    q: <R extends object>(text: string, values: unknown[]) => Promise<R[]>,
  ): Promise<{ start: FlowStart; superseded: Array<{ id: string }> }> {
    const { def, key, flowKey } = req;
    const found = (id: string, runKey = key) => ({
      start: { id, key: runKey, created: false, nextRunAt: null },
      superseded: [],
    });
    if (flowKey !== null)
      await q(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
        `chronoforge:${this.store.schema}:${def.name}:${flowKey}`,
      ]);
    const [existing] = await q<{ id: string }>(this.findSql, [def.name, key]);
    if (existing) return found(existing.id);
    const flow = def.flow;
    let superseded: Array<{ id: string; key: string }> = [];
    if (flow?.singleton && flowKey !== null) {
      const active = await q<{ id: string; key: string }>(this.activeSql, [def.name, flowKey]);
      if (flow.singleton.mode === 'skip' && active[0]) return found(active[0].id, active[0].key);
      if (flow.singleton.mode === 'cancelPrevious') superseded = active;
    }
    if (flow?.debounce && flowKey !== null)
      superseded = await q<{ id: string; key: string }>(this.pendingSql, [def.name, flowKey]);
    const delayMs = flow?.debounce?.periodMs ?? 0;
    const [row] = await q<{ id: string; next_run_at: Date }>(this.insertSql, [
      key,
      def.name,
      JSON.stringify(req.input ?? null),
      def.maxDurationMs,
      req.timeoutMs,
      delayMs,
      flowKey,
      req.priority,
      def.version ?? null,
      JSON.stringify(req.attributes),
    ]);
    if (!row) return found((await q<{ id: string }>(this.findSql, [def.name, key]))[0].id);
    return { start: { id: row.id, key, created: true, nextRunAt: row.next_run_at }, superseded };
  }
}
