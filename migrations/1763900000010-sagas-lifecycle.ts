import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

const STATES = `'idle','running','completed','failed','stalled','cancelled'`;

/**
 * Sagas and lifecycle, on `chrono_forge_workflows`:
 * - states `compensating` (the run rolls back: the compensations of its completed steps run, each
 *   a durable step) and `compensated` (terminal: every compensation completed);
 * - `compensation` (jsonb): why the rollback began and, once it ended, the compensations that
 *   completed and those that failed;
 * - `cancel_reason`: why the run was cancelled (`client.cancel(key, { reason })`, or a deadline);
 * - `deadline_at`: the run's deadline (`timeout`, from its start; a child's is never later than
 *   its parent's). An idle run's `next_run_at` is never later, so the overdue-run index and the
 *   recovery sweep find a run whose deadline passed while no worker was alive.
 * A partial index finds compensating runs whose wake-up is overdue, as the `idle` one does.
 */
export class ChronoForgeSagasLifecycle1763900000010 implements MigrationInterface {
  name = 'ChronoForgeSagasLifecycle1763900000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      DROP CONSTRAINT IF EXISTS chrono_forge_workflows_state_check,
      ADD CONSTRAINT chrono_forge_workflows_state_check
        CHECK (state IN (${STATES},'compensating','compensated')),
      ADD COLUMN compensation jsonb,
      ADD COLUMN cancel_reason text,
      ADD COLUMN deadline_at timestamptz`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_compensating_idx ON ${s}.chrono_forge_workflows (next_run_at)
         WHERE state = 'compensating'`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_compensating_idx`);
    // NOTE: a run rolling back (or rolled back) has no state before this migration: it ends failed.
    await queryRunner.query(
      `UPDATE ${s}.chrono_forge_workflows SET state = 'failed', locked_at = NULL, locked_by = NULL,
         next_run_at = NULL, finished_at = COALESCE(finished_at, now())
       WHERE state IN ('compensating', 'compensated')`,
    );
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      DROP CONSTRAINT chrono_forge_workflows_state_check,
      ADD CONSTRAINT chrono_forge_workflows_state_check CHECK (state IN (${STATES})),
      DROP COLUMN compensation, DROP COLUMN cancel_reason, DROP COLUMN deadline_at`);
  }
}
