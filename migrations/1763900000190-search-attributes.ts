import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Search attributes (`ctx.setAttributes`, `client.start(…, { attributes })`):
 * `chrono_forge_workflows.attributes` (jsonb object of string, number and boolean values, `{}` by
 * default), with a GIN index (`jsonb_path_ops`) that serves `client.list({ attributes })`, the
 * dashboard's and the CLI's attribute filters: a containment test `attributes @> $1`.
 */
export class ChronoForgeSearchAttributes1763900000190 implements MigrationInterface {
  name = 'ChronoForgeSearchAttributes1763900000190';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      ADD COLUMN IF NOT EXISTS attributes jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS chrono_forge_workflows_attributes_idx
      ON ${s}.chrono_forge_workflows USING gin (attributes jsonb_path_ops)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_attributes_idx`);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows DROP COLUMN IF EXISTS attributes`,
    );
  }
}
