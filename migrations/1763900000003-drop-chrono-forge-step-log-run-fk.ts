import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Drops the foreign key from `chrono_forge_execution_logs.workflow_id` to the workflows table.
 *
 * Every completed step inserts one log row; the key's check trigger ran on each of those inserts and
 * locked the run's row (`FOR KEY SHARE`), about 0.045 ms per step of a 0.1 ms statement execution.
 * The engine only inserts logs under the run's lock fence (the run exists), and the only deleter of
 * runs, `Cleanup`, removes a run's logs in the same transaction, so the key guarded nothing the
 * engine relies on. `down` restores it (deleting orphaned logs first).
 */
export class DropChronoForgeStepLogRunFk1763900000003 implements MigrationInterface {
  name = 'DropChronoForgeStepLogRunFk1763900000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_execution_logs
         DROP CONSTRAINT IF EXISTS chrono_forge_execution_logs_workflow_id_fkey`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
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
