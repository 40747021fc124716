import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema of the running DataSource (`options.schema`), defaulting to `public`. */
export function migrationSchema(queryRunner: QueryRunner): string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw new Error(`Invalid schema name ${schema}`);
  return `"${schema}"`;
}

/**
 * Creates `chrono_forge_workflows`, `chrono_forge_execution_logs` and `chrono_forge_error_logs`.
 */
export class InitChronoForge1763900000000 implements MigrationInterface {
  name = 'InitChronoForge1763900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_workflows (
        id bigserial PRIMARY KEY,
        key text NOT NULL,
        job_name text NOT NULL,
        input jsonb,
        options jsonb NOT NULL DEFAULT '{}',
        context jsonb NOT NULL DEFAULT '{}',
        state text NOT NULL DEFAULT 'idle'
          CHECK (state IN ('idle','running','completed','failed','stalled','cancelled')),
        attempt integer NOT NULL DEFAULT 0,
        retry_counts jsonb NOT NULL DEFAULT '{}',
        max_duration_ms integer NOT NULL,
        wake_pending boolean NOT NULL DEFAULT false,
        locked_at timestamptz,
        locked_by text,
        started_at timestamptz,
        completed_at timestamptz,
        next_run_at timestamptz,
        result jsonb,
        parent_execution_log_id bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chrono_forge_workflows_job_name_key_uq UNIQUE (job_name, key)
      )`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_key_idx ON ${s}.chrono_forge_workflows (key)`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_state_completed_idx ON ${s}.chrono_forge_workflows (state, completed_at)`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_parent_state_idx ON ${s}.chrono_forge_workflows (parent_execution_log_id, state)`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_next_run_idx ON ${s}.chrono_forge_workflows (next_run_at) WHERE state = 'idle'`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_workflows_locked_idx ON ${s}.chrono_forge_workflows (locked_at) WHERE state = 'running'`,
    );
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_execution_logs (
        id bigserial PRIMARY KEY,
        workflow_id bigint NOT NULL REFERENCES ${s}.chrono_forge_workflows (id) ON DELETE CASCADE,
        step_name text NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','completed','failed')),
        attempts integer NOT NULL DEFAULT 0,
        started_at timestamptz,
        last_executed_at timestamptz,
        completed_at timestamptz,
        result jsonb,
        metadata jsonb NOT NULL DEFAULT '{}',
        error_class text,
        error_message text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chrono_forge_execution_logs_workflow_step_uq UNIQUE (workflow_id, step_name)
      )`);
    await queryRunner.query(`
      ALTER TABLE ${s}.chrono_forge_workflows
        ADD CONSTRAINT chrono_forge_workflows_parent_fk FOREIGN KEY (parent_execution_log_id)
        REFERENCES ${s}.chrono_forge_execution_logs (id) ON DELETE SET NULL`);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_error_logs (
        id bigserial PRIMARY KEY,
        workflow_id bigint NOT NULL REFERENCES ${s}.chrono_forge_workflows (id) ON DELETE CASCADE,
        execution_log_id bigint REFERENCES ${s}.chrono_forge_execution_logs (id) ON DELETE SET NULL,
        step_name text,
        attempt integer,
        error_class text NOT NULL,
        error_message text,
        backtrace text,
        context jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_error_logs_workflow_idx ON ${s}.chrono_forge_error_logs (workflow_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_error_logs`);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows DROP CONSTRAINT IF EXISTS chrono_forge_workflows_parent_fk`,
    );
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_execution_logs`);
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_workflows`);
  }
}
