import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';
import { limitFunctionsSql } from './1763900000006-limit-functions.js';
import { flowFunctionsSql } from './1763900000170-flow-control-functions.js';

/**
 * Flow control at the run level (issue 17):
 *
 * - `chrono_forge_workflows.flow_key`: the singleton or debounce key of a run (computed from its
 *   validated input at `start`), indexed per workflow for the start-time look-up of active runs;
 * - `chrono_forge_workflows.priority`: lower runs first (queue jobs and waiters on limits);
 * - `chrono_forge_limit_slots.ord`: the queue position of a waiter on an ordered limit (its run
 *   id, i.e. the run's start order); other waiters are ordered by arrival (`id`);
 * - the acquire, wake and release functions replaced (see `1763900000170-flow-control-functions.ts`).
 */
export class ChronoForgeFlowControl1763900000170 implements MigrationInterface {
  name = 'ChronoForgeFlowControl1763900000170';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      ADD COLUMN flow_key text,
      ADD COLUMN priority integer NOT NULL DEFAULT 0`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_flow_key_idx ON ${s}.chrono_forge_workflows
         (job_name, flow_key) WHERE flow_key IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_limit_slots ADD COLUMN ord bigint`);
    for (const statement of flowFunctionsSql(s)) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    const [wake, acquire, release] = limitFunctionsSql(s).map((sql) =>
      sql.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
    );
    for (const statement of [wake, acquire, release]) await queryRunner.query(statement);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_limit_slots DROP COLUMN IF EXISTS ord`);
    await queryRunner.query(`DROP INDEX IF EXISTS ${s}.chrono_forge_workflows_flow_key_idx`);
    await queryRunner.query(`ALTER TABLE ${s}.chrono_forge_workflows
      DROP COLUMN IF EXISTS flow_key, DROP COLUMN IF EXISTS priority`);
  }
}
