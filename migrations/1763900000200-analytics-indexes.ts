import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Indexes the time columns the dashboard's analytics page reads a range of: runs started
 * (`chrono_forge_workflows.created_at`) and errors recorded (`chrono_forge_error_logs.created_at`)
 * since a moment. Runs finished in a range already use `chrono_forge_workflows_state_finished_idx`.
 * Without these, each analytics page scanned both tables whole. And a workflow's runs by state,
 * newest first (`job_name, state, id`): the definition graph's sample run, which otherwise walked
 * the whole runs table backwards for a workflow with no completed run.
 */
export class ChronoForgeAnalyticsIndexes1763900000200 implements MigrationInterface {
  name = 'ChronoForgeAnalyticsIndexes1763900000200';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS chrono_forge_workflows_created_idx
         ON ${s}.chrono_forge_workflows (created_at)`,
    );
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS chrono_forge_error_logs_created_idx
         ON ${s}.chrono_forge_error_logs (created_at)`,
    );
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS chrono_forge_workflows_job_name_state_idx
         ON ${s}.chrono_forge_workflows (job_name, state, id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_job_name_state_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_error_logs_created_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_created_idx`);
  }
}
