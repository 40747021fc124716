import { Cleanup } from '../lib/index.js';
import { type BenchResult, bootBench, fmt, now, scaled, sql } from './support.js';

/** Runs `Cleanup` deletes in the large-table case (the issue's: 1 000 runs beside 200 k errors). */
const OLD_RUNS = scaled(1_000);
/** Stalled runs whose rows `Cleanup` must not touch, but whose tables it must not scan either. */
const LIVE_RUNS = scaled(1_000);
const ERRORS_PER_LIVE_RUN = 200;
const SIGNALS_PER_LIVE_RUN = 300;

/**
 * `Cleanup.run()` of old completed runs (each with two step logs, an error row on one of them and a
 * consumed signal), first in an otherwise empty schema, then beside `LIVE_RUNS` stalled runs with
 * 200 error rows (pointing at their step logs) and 300 consumed signals each. Every deleted step log
 * and run makes PostgreSQL look up the referencing error rows and signals: with the foreign keys
 * indexed the time stays flat in the size of those unrelated rows; without, each lookup is a
 * sequential scan.
 */
export async function cleanupBench(): Promise<BenchResult> {
  const bench = await bootBench({ prefix: 'cleanup', providers: [Cleanup], concurrency: 1 });
  try {
    const s = `"${bench.schema}"`;
    const cleanup = bench.app.get(Cleanup);
    const seedOld = async (prefix: string): Promise<void> => {
      await sql(
        `INSERT INTO ${s}.chrono_forge_workflows
           (key, job_name, state, max_duration_ms, created_at, updated_at, completed_at)
         SELECT $1 || g, 'bench.old', 'completed', 60000, now() - interval '101 days',
           now() - interval '100 days', now() - interval '100 days'
         FROM generate_series(1, $2) g`,
        [prefix, OLD_RUNS],
      );
      await sql(
        `INSERT INTO ${s}.chrono_forge_execution_logs (workflow_id, step_name, state)
         SELECT w.id, st, 'completed' FROM ${s}.chrono_forge_workflows w,
           unnest(ARRAY['step$a', 'step$b']) st WHERE w.key LIKE $1 || '%'`,
        [prefix],
      );
      await sql(
        `INSERT INTO ${s}.chrono_forge_error_logs (workflow_id, execution_log_id, step_name, attempt, error_class)
         SELECT l.workflow_id, l.id, l.step_name, 1, 'Error' FROM ${s}.chrono_forge_execution_logs l
           JOIN ${s}.chrono_forge_workflows w ON w.id = l.workflow_id
         WHERE w.key LIKE $1 || '%' AND l.step_name = 'step$a'`,
        [prefix],
      );
      await sql(
        `INSERT INTO ${s}.chrono_forge_signals (workflow_id, name, payload, consumed_by, consumed_at)
         SELECT id, 'go', '{}', 'signal$go', now() FROM ${s}.chrono_forge_workflows
         WHERE key LIKE $1 || '%'`,
        [prefix],
      );
      await sql(`ANALYZE ${s}.chrono_forge_workflows, ${s}.chrono_forge_execution_logs`);
    };
    const timedCleanup = async (): Promise<{ ms: number; workflows: number }> => {
      const t0 = now();
      const deleted = await cleanup.run({ olderThan: '90d' });
      return { ms: now() - t0, workflows: deleted.workflows };
    };

    await seedOld('warm-'); // a first cleanup pays for connections and plan caching
    await timedCleanup();
    await seedOld('small-');
    const small = await timedCleanup();

    const t0 = now();
    await sql(
      `INSERT INTO ${s}.chrono_forge_workflows (key, job_name, state, max_duration_ms)
       SELECT 'live-' || g, 'bench.live', 'stalled', 60000 FROM generate_series(1, $1) g`,
      [LIVE_RUNS],
    );
    await sql(
      `INSERT INTO ${s}.chrono_forge_execution_logs (workflow_id, step_name, state)
       SELECT id, 'step$x', 'failed' FROM ${s}.chrono_forge_workflows WHERE job_name = 'bench.live'`,
    );
    await sql(
      `INSERT INTO ${s}.chrono_forge_error_logs (workflow_id, execution_log_id, step_name, attempt, error_class)
       SELECT l.workflow_id, l.id, l.step_name, g, 'Error'
       FROM ${s}.chrono_forge_execution_logs l, generate_series(1, $1) g WHERE l.step_name = 'step$x'`,
      [ERRORS_PER_LIVE_RUN],
    );
    await sql(
      `INSERT INTO ${s}.chrono_forge_signals (workflow_id, name, payload, consumed_by, consumed_at)
       SELECT w.id, 'go', '{}', 'signal$go', now()
       FROM ${s}.chrono_forge_workflows w, generate_series(1, $1) g WHERE w.job_name = 'bench.live'`,
      [SIGNALS_PER_LIVE_RUN],
    );
    await sql(`ANALYZE ${s}.chrono_forge_error_logs, ${s}.chrono_forge_signals`);
    const seedS = (now() - t0) / 1000;
    await seedOld('large-');
    const large = await timedCleanup();

    const [sizes] = await sql<{ errors: string; signals: string; live: string }>(
      `SELECT (SELECT count(*) FROM ${s}.chrono_forge_error_logs) AS errors,
              (SELECT count(*) FROM ${s}.chrono_forge_signals) AS signals,
              (SELECT count(*) FROM ${s}.chrono_forge_workflows WHERE state = 'stalled') AS live`,
    );
    const ratio = large.ms / small.ms;
    const ok = ratio <= 2 && small.workflows === OLD_RUNS && large.workflows === OLD_RUNS;
    return {
      rows: [
        {
          name: `Cleanup of ${OLD_RUNS} old runs beside ${sizes.errors} error rows and ${sizes.signals} signals of stalled runs`,
          measured: `${fmt(large.ms, 0)} ms (${large.workflows} runs deleted)`,
          baseline: `${fmt(small.ms, 0)} ms (same runs, no unrelated rows)`,
          ratio: `${fmt(ratio)}×`,
          goal: '≤ 2× (flat in the size of unrelated tables)',
          met: ok ? 'yes' : 'no',
          statements: 'n/a',
          roundTrips: 'n/a',
        },
      ],
      notes: [
        `cleanup: ${OLD_RUNS} completed runs 100 days old, each with 2 step logs, 1 error row and ` +
          `1 consumed signal, deleted by Cleanup.run({ olderThan: '90d' }) (batches of 1 000): ` +
          `${fmt(small.ms, 0)} ms alone, ${fmt(large.ms, 0)} ms beside ${sizes.live} stalled runs ` +
          `with ${ERRORS_PER_LIVE_RUN} error rows (on their step log) and ${SIGNALS_PER_LIVE_RUN} ` +
          `consumed signals each (seeded in ${fmt(seedS, 1)} s, analyzed).`,
      ],
    };
  } finally {
    await bench.close();
  }
}
