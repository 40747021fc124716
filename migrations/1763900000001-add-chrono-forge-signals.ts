import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/** Adds `chrono_forge_signals`: payloads sent to runs, consumed once by `waitForSignal`. */
export class AddChronoForgeSignals1763900000001 implements MigrationInterface {
  name = 'AddChronoForgeSignals1763900000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_signals (
        id bigserial PRIMARY KEY,
        workflow_id bigint NOT NULL REFERENCES ${s}.chrono_forge_workflows (id) ON DELETE CASCADE,
        name text NOT NULL,
        payload jsonb,
        consumed_by text,
        consumed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_signals_pending_idx ON ${s}.chrono_forge_signals (workflow_id, name, id) WHERE consumed_at IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TABLE IF EXISTS ${migrationSchema(queryRunner)}.chrono_forge_signals`,
    );
  }
}
