import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Adds `chrono_forge_workers`: one row per live worker process with a heartbeat, so the lock of a
 * pass whose worker died is taken over within seconds instead of after `maxDuration`.
 */
export class AddChronoForgeWorkers1763900000002 implements MigrationInterface {
  name = 'AddChronoForgeWorkers1763900000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE ${migrationSchema(queryRunner)}.chrono_forge_workers (
        id text PRIMARY KEY,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TABLE IF EXISTS ${migrationSchema(queryRunner)}.chrono_forge_workers`,
    );
  }
}
