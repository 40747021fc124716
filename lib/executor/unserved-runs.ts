import { Inject, Injectable, Logger } from '@nestjs/common';
import { CHRONO_FORGE_RESOLVED_OPTIONS } from '../options/chrono-forge.constants.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { WorkflowDefinition } from '../definitions/workflow.registry.js';
import { WorkflowRegistry } from '../definitions/workflow.registry.js';
import type { RunRow } from '../persistence/rows.js';
import { WorkflowStore, WORKER_DEAD_AFTER_MS } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { ChronoForgeClock } from '../util/clock.js';
import { escapeControlChars } from '../util/control-chars.util.js';
import { toErrorRecord } from '../run/error-record.js';
import { WorkflowVersionMissingError } from '../errors/workflow-version-missing.error.js';
import { UNKNOWN_WORKFLOW_RETRY_MS } from './pass-outcome.js';

/** Wait before a worker that lacks a run's version lets another worker (one that has it) try. */
export const OTHER_VERSION_RETRY_MS = 1_000;
/** Key of `retry_counts`: when (epoch ms) a worker first left the run for lack of its version. */
export const VERSION_WAIT_KEY = '$version_wait_since';

/**
 * What brings a run stalled for lack of its version back: a rollback (`compensating`) goes on with
 * `client.compensate`, as `client.retry` refuses a run that began to roll back.
 */
function resumeHint(state: RunRow['state']): string {
  return state === 'compensating'
    ? 'call client.compensate(key) to finish its rollback (client.retry does not run a rolled-back run forward)'
    : 'call client.retry(key)';
}

/** Whether this worker's definition of a run's workflow may run it (its start version). */
export function servesRun(definition: WorkflowDefinition, run: RunRow): boolean {
  return run.version == null || run.version === (definition.version ?? null);
}

/**
 * Runs this worker may not run, left to a worker that may: a run of a workflow this process does
 * not know, or one started with a `@Workflow({ version })` this process does not have. A run whose
 * version no live worker has served for `worker.deadAfter` is stalled with
 * `WorkflowVersionMissingError` rather than stranded.
 */
@Injectable()
export class UnservedRuns {
  private readonly logger = new Logger('WorkflowExecutor');

  constructor(
    private readonly store: WorkflowStore,
    private readonly registry: WorkflowRegistry,
    private readonly queue: WorkflowQueue,
    private readonly clock: ChronoForgeClock,
    @Inject(CHRONO_FORGE_RESOLVED_OPTIONS) private readonly options: ResolvedOptions,
  ) {}

  /** Releases run `run` (locked by `owner`), which `definition` cannot run. */
  async leave(run: RunRow, owner: string, definition: WorkflowDefinition | undefined) {
    // A rollback stays one: released as `idle`, it would be dropped and the run would go forward.
    const state = run.state === 'compensating' ? ('compensating' as const) : ('idle' as const);
    const spec = { state, attempt: run.attempt, context: null };
    if (!definition) {
      this.logger.error(
        `Run ${run.id} ("${escapeControlChars(run.key)}") belongs to unknown workflow "${run.job_name}"; known: ${this.registry.names().join(', ')}`,
      );
      const nextRunAt = new Date(this.clock.now() + UNKNOWN_WORKFLOW_RETRY_MS);
      await this.store.release(run.id, owner, {
        ...spec,
        nextRunAt,
        retryCounts: run.retry_counts,
      });
      return;
    }
    const version = run.version as string;
    const now = this.clock.now();
    const since = run.retry_counts[VERSION_WAIT_KEY] ?? now;
    const deadAfter =
      this.options.worker === false ? WORKER_DEAD_AFTER_MS : this.options.worker.deadAfterMs;
    if (now - since >= deadAfter && !(await this.served(run.job_name, version, deadAfter))) {
      const mine = definition.version === undefined ? 'no version' : `"${definition.version}"`;
      const error = new WorkflowVersionMissingError(
        `Run ${run.id} ("${escapeControlChars(run.key)}") of workflow "${run.job_name}" started with version "${version}", and no live worker has served that version for ${deadAfter} ms (this worker has ${mine}). ` +
          `Deploy a worker with @Workflow({ version: '${version}' }) and keep it until \`chronoforge versions\` shows no in-flight run of it, then ${resumeHint(run.state)}.`,
        run.job_name,
        version,
      );
      this.logger.error(error.message);
      const { [VERSION_WAIT_KEY]: _, ...retryCounts } = run.retry_counts;
      const record = toErrorRecord(error, run.context);
      const stalled = { ...spec, state: 'stalled' as const, nextRunAt: null, retryCounts };
      await this.store.release(run.id, owner, { ...stalled, error: record });
      return;
    }
    const nextRunAt = new Date(now + OTHER_VERSION_RETRY_MS);
    const retryCounts = { ...run.retry_counts, [VERSION_WAIT_KEY]: since };
    const released = await this.store.release(run.id, owner, { ...spec, nextRunAt, retryCounts });
    if (released?.nextRunAt) await this.queue.enqueueRun(run.id, released.nextRunAt);
  }

  /** Whether a worker that heartbeat within `deadAfter` ms serves `version` of `workflow`. */
  private async served(workflow: string, version: string, deadAfter: number): Promise<boolean> {
    const rows = await this.store.query<{ served: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${this.store.workers}
         WHERE heartbeat_at > now() - $3 * interval '1 millisecond' AND versions ->> $1 = $2) AS served`,
      [workflow, version, deadAfter],
    );
    return rows[0]?.served === true;
  }
}
