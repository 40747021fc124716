import { sql } from '../support/env.js';

const DAY = 86_400_000;

/** The time `d` days ago. */
export const daysAgo = (d: number): Date => new Date(Date.now() - d * DAY);

/** Direct-SQL seeding of runs, logs and repeat ticks in one suite's schema (as chrono_forge's tests do). */
export function cleanupSeed(schema: string) {
  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  const errors = `"${schema}".chrono_forge_error_logs`;
  let seq = 0;

  return {
    wf,
    logs,

    /** A `seeded` run that became terminal `terminalDaysAgo` days ago and was created `createdDaysAgo` ago. */
    async makeRun(
      state: string,
      terminalDaysAgo: number | null,
      createdDaysAgo = 1,
    ): Promise<string> {
      const created = daysAgo(createdDaysAgo);
      const terminal = terminalDaysAgo === null ? created : daysAgo(terminalDaysAgo);
      const rows = await sql<{ id: string }>(
        `INSERT INTO ${wf} (key, job_name, state, max_duration_ms, created_at, updated_at, completed_at,
           finished_at)
         VALUES ($1, 'seeded', $2, 60000, $3, $4, CASE WHEN $2 = 'completed' THEN $4::timestamptz END,
           CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN $4::timestamptz END)
         RETURNING id`,
        [`seed-${++seq}`, state, created, terminal],
      );
      return rows[0].id;
    },

    /** One step log and one error-log row. */
    async addLogs(id: string): Promise<void> {
      await sql(
        `INSERT INTO ${logs} (workflow_id, step_name, state) VALUES ($1, 'step$x', 'completed')`,
        [id],
      );
      await sql(
        `INSERT INTO ${errors} (workflow_id, error_class, error_message) VALUES ($1, 'X', 'y')`,
        [id],
      );
    },

    /** A coordination log `durably_repeat$<task>` with frontier `lastExecutionAt`. */
    async coordination(id: string, task: string, lastExecutionAt: Date | null): Promise<string> {
      const meta = { last_execution_at: lastExecutionAt?.toISOString() ?? null };
      const rows = await sql<{ id: string }>(
        `INSERT INTO ${logs} (workflow_id, step_name, state, metadata) VALUES ($1, $2, 'pending', $3)
         RETURNING id`,
        [id, `durably_repeat$${task}`, JSON.stringify(meta)],
      );
      return rows[0].id;
    },

    /** A tick row `durably_repeat$<task>$<scheduled ms>` created `createdDaysAgo` days ago. */
    async tick(
      id: string,
      task: string,
      scheduled: Date,
      state: string,
      createdDaysAgo = 0,
    ): Promise<string> {
      const rows = await sql<{ id: string }>(
        `INSERT INTO ${logs} (workflow_id, step_name, state, metadata, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [
          id,
          `durably_repeat$${task}$${scheduled.getTime()}`,
          state,
          JSON.stringify({ scheduled_for: scheduled.toISOString() }),
          daysAgo(createdDaysAgo),
        ],
      );
      return rows[0].id;
    },

    runExists: async (id: string) =>
      (await sql(`SELECT 1 FROM ${wf} WHERE id = $1`, [id])).length === 1,
    logExists: async (id: string) =>
      (await sql(`SELECT 1 FROM ${logs} WHERE id = $1`, [id])).length === 1,
    /** Removes every seeded run (logs cascade). */
    reset: () => sql(`DELETE FROM ${wf} WHERE job_name = 'seeded'`),
  };
}
