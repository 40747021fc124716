import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Versioning and safe deploys:
 * - `chrono_forge_workflows.history` (jsonb): the run's durable calls by position, written by the
 *   statement that ends each pass and read by the one that takes the lock (`NonDeterminismError`,
 *   `ctx.patched`); `NULL` for runs recorded before it (they are not checked);
 * - `chrono_forge_workflows.version` (text): the `@Workflow({ version })` the run started with;
 * - `chrono_forge_workflows.forked_from` (bigint): the run `client.fork` copied this one from;
 * - `chrono_forge_workers.versions` (jsonb): the workflow versions each live worker serves, written
 *   with its heartbeat (`{ "<workflow>": "<version>" }`).
 */
export class ChronoForgeVersioning1763900000030 implements MigrationInterface {
  name = 'ChronoForgeVersioning1763900000030';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      ADD COLUMN history jsonb, ADD COLUMN version text, ADD COLUMN forked_from bigint`);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workers
      ADD COLUMN versions jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workers DROP COLUMN versions`);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      DROP COLUMN history, DROP COLUMN version, DROP COLUMN forked_from`);
  }
}
