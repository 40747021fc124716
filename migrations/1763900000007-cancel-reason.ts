import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * `chrono_forge_workflows.cancel_reason` (new): why the run was cancelled, as given to
 * `client.cancel(key, { reason })` (or the deadline that cancelled it).
 */
export class ChronoForgeCancelReason1763900000007 implements MigrationInterface {
  name = 'ChronoForgeCancelReason1763900000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows ADD COLUMN cancel_reason text`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows DROP COLUMN cancel_reason`);
  }
}
