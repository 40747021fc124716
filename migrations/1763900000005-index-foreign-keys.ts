import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Indexes the two foreign-key columns a delete of a run or a step log looked up by sequential scan:
 * `chrono_forge_error_logs.execution_log_id` (`ON DELETE SET NULL` from the step logs) and
 * `chrono_forge_signals.workflow_id` (`ON DELETE CASCADE` from the runs; its partial index covers
 * only unconsumed signals). Without them every deleted step log or run scanned the whole error-log or
 * signal table, so `Cleanup` and the repeat-tick pruner slowed with the size of unrelated rows.
 * Every other key a delete walks already leads an index: `chrono_forge_error_logs.workflow_id`,
 * `chrono_forge_workflows.parent_execution_log_id` and (trigger-maintained)
 * `chrono_forge_execution_logs.workflow_id`.
 */
export class ChronoForgeForeignKeyIndexes1763900000005 implements MigrationInterface {
  name = 'ChronoForgeForeignKeyIndexes1763900000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS chrono_forge_error_logs_execution_log_idx
         ON ${s}.chrono_forge_error_logs (execution_log_id)`,
    );
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS chrono_forge_signals_workflow_idx
         ON ${s}.chrono_forge_signals (workflow_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_signals_workflow_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_error_logs_execution_log_idx`);
  }
}
