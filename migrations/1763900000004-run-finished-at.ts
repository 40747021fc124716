import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * `chrono_forge_workflows`:
 * - `max_duration_ms` becomes `bigint`: an `integer` held at most ~24.8 days, so a longer
 *   `maxDuration` failed every start. (The type change rewrites the table under an exclusive lock.)
 * - `finished_at` (new): when the run became `completed`, `failed` or `cancelled`. `completed_at`
 *   keeps its meaning — set only for `completed` runs — and failed or cancelled runs lose the
 *   `completed_at` they were given until now (it moves to `finished_at`). Cleanup measures the
 *   retention of failed and cancelled runs from `finished_at`, which nothing moves afterwards.
 */
export class ChronoForgeRunFinishedAt1763900000004 implements MigrationInterface {
  name = 'ChronoForgeRunFinishedAt1763900000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    const wf = `${migrationSchema(queryRunner)}.chrono_forge_workflows`;
    await queryRunner.query(`ALTER TABLE ${wf} ALTER COLUMN max_duration_ms TYPE bigint,
      ADD COLUMN finished_at timestamptz`);
    await queryRunner.query(
      `UPDATE ${wf} SET finished_at = COALESCE(completed_at, updated_at),
         completed_at = CASE WHEN state = 'completed' THEN completed_at END
       WHERE state IN ('completed', 'failed', 'cancelled')`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_state_finished_idx ON ${wf} (state, finished_at)
         WHERE finished_at IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const wf = `${s}.chrono_forge_workflows`;
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_state_finished_idx`);
    await queryRunner.query(
      `UPDATE ${wf} SET completed_at = finished_at WHERE state IN ('failed', 'cancelled')`,
    );
    await queryRunner.query(`ALTER TABLE ${wf} DROP COLUMN finished_at,
      ALTER COLUMN max_duration_ms TYPE integer USING LEAST(max_duration_ms, 2147483647)`);
  }
}
