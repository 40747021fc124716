import { ChronoForgeError } from './chrono-forge.error.js';

/**
 * A run started with a `@Workflow({ version })` that no live worker has served for
 * `worker.deadAfter`: the run is stalled rather than stranded. Deploy a worker that has that
 * version (keep it until `chronoforge versions` shows no in-flight run of it), then
 * `client.retry(key)` — or, for a run stalled during its rollback (it was `compensating`),
 * `client.compensate(key)`, which finishes the rollback (`client.retry` refuses such a run).
 *
 * @publicApi
 */
export class WorkflowVersionMissingError extends ChronoForgeError {
  readonly code = 'CHRONOFORGE_WORKFLOW_VERSION_MISSING';

  constructor(
    message: string,
    /** The workflow. */
    readonly workflow: string,
    /** The version the run started with, which no live worker has. */
    readonly version: string,
  ) {
    super(message);
  }
}
