import type { ChronoForgeDatabase } from '../database/chrono-forge-database.js';
import { StepTransaction } from '../database/step-transaction.js';
import { TxChains } from '../database/tx-connection.js';
import type { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import type { ChronoForgeTracer } from '../observability/chrono-forge-tracer.js';
import type { StepOptions } from '../options/workflow-options.interface.js';
import type { RunScope } from '../run/run-scope.js';

/** Runs one attempt of a step body inside a `chronoforge.step` span and records its duration. */
export async function observeStep<T>(
  tracer: ChronoForgeTracer,
  metrics: ChronoForgeMetrics,
  scope: RunScope,
  stepName: string,
  attempt: number,
  body: () => T | Promise<T>,
): Promise<T> {
  const workflow = scope.run.job_name;
  const started = performance.now();
  let outcome = 'error';
  try {
    let value: T;
    if (tracer.enabled) {
      const attributes = {
        'chronoforge.workflow': workflow,
        'chronoforge.step': stepName,
        'chronoforge.attempt': attempt,
      };
      value = await tracer.span('chronoforge.step', attributes, async () => body());
    } else value = await body();
    outcome = 'ok';
    return value;
  } finally {
    metrics.step(workflow, stepName, outcome, (performance.now() - started) / 1000);
  }
}

/** The transactional steps of every pass (keyed by the pass's scope), see `TxConnection`. */
const chains = new TxChains();

/**
 * Opens the transaction of a transactional step of `scope`'s pass on the engine's DataSource: a
 * pooled connection and `START TRANSACTION ISOLATION LEVEL …` (default READ COMMITTED) in one
 * round trip where the runner allows it, or with no round trip on the connection the pass's
 * previous transactional step kept with the transaction begun by its COMMIT (see
 * `StepTransaction`, `TxConnection`). @internal
 */
export function beginStepTransaction(
  db: ChronoForgeDatabase,
  options: StepOptions,
  scope: RunScope,
): Promise<StepTransaction> {
  return StepTransaction.begin(
    db.dataSource.createQueryRunner(),
    options.isolation ?? 'READ COMMITTED',
    { pool: db.pool, pass: scope, chains },
  );
}
