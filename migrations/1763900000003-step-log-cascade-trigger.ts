import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Replaces the foreign key from `chrono_forge_execution_logs.workflow_id` to the workflows table by
 * a statement-level `AFTER DELETE` trigger that deletes a deleted run's logs.
 *
 * Every completed step inserts one log row; the key's check trigger ran on each of those inserts and
 * locked the run's row (`FOR KEY SHARE`), about 0.045 ms per step of a 0.1 ms statement execution.
 * The engine inserts logs only under the run's lock fence (the run exists), so the insert-time check
 * guarded nothing; the delete-time cascade is kept by the trigger, at the cost of one statement per
 * deleting statement instead of one check per step.
 */
export class ChronoForgeStepLogCascade1763900000003 implements MigrationInterface {
  name = 'ChronoForgeStepLogCascade1763900000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_execution_logs
         DROP CONSTRAINT IF EXISTS chrono_forge_execution_logs_workflow_id_fkey`,
    );
    await queryRunner.query(`
      CREATE FUNCTION ${s}.chrono_forge_delete_run_logs() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        DELETE FROM ${s}.chrono_forge_execution_logs l USING deleted_runs d WHERE l.workflow_id = d.id;
        RETURN NULL;
      END
      $fn$`);
    await queryRunner.query(`
      CREATE TRIGGER chrono_forge_workflows_delete_logs AFTER DELETE ON ${s}.chrono_forge_workflows
        REFERENCING OLD TABLE AS deleted_runs
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.chrono_forge_delete_run_logs()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS chrono_forge_workflows_delete_logs ON ${s}.chrono_forge_workflows`,
    );
    await queryRunner.query(`DROP FUNCTION IF EXISTS ${s}.chrono_forge_delete_run_logs()`);
    await queryRunner.query(
      `DELETE FROM ${s}.chrono_forge_execution_logs l
        WHERE NOT EXISTS (SELECT 1 FROM ${s}.chrono_forge_workflows w WHERE w.id = l.workflow_id)`,
    );
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_execution_logs
         ADD CONSTRAINT chrono_forge_execution_logs_workflow_id_fkey FOREIGN KEY (workflow_id)
         REFERENCES ${s}.chrono_forge_workflows (id) ON DELETE CASCADE`,
    );
  }
}
