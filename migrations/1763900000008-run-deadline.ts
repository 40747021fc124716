import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * `chrono_forge_workflows.deadline_at` (new): the run's deadline (`@Workflow({ timeout })` or
 * `start(…, { timeout })`, counted from the start; a child's is never later than its parent's).
 * An idle run's `next_run_at` is never later than it, so the existing overdue-run index and
 * recovery sweep find a run whose deadline passed while no worker was alive.
 */
export class ChronoForgeRunDeadline1763900000008 implements MigrationInterface {
  name = 'ChronoForgeRunDeadline1763900000008';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows ADD COLUMN deadline_at timestamptz`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows DROP COLUMN deadline_at`);
  }
}
