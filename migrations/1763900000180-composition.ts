import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Composition (`ctx.call`, pushed fan-in): `chrono_forge_execution_logs.pending_children` counts the
 * children of a branch or call log that have not finished yet. A spawn adds the children it inserts;
 * a child's completion (or failure) statement takes one off and, at zero, wakes the parent in the
 * same statement. The counter is a wake-up hint only: merges count the children themselves.
 * An index on `(parent_execution_log_id, id)` lets merge results page through a branch's children.
 */
export class ChronoForgeComposition1763900000180 implements MigrationInterface {
  name = 'ChronoForgeComposition1763900000180';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_execution_logs
      ADD COLUMN pending_children integer NOT NULL DEFAULT 0`);
    // Merge results page through a branch's children by id.
    await queryRunner.query(`CREATE INDEX chrono_forge_workflows_parent_id_idx
      ON ${s}.chrono_forge_workflows (parent_execution_log_id, id)
      WHERE parent_execution_log_id IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_parent_id_idx`);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_execution_logs DROP COLUMN pending_children`,
    );
  }
}
