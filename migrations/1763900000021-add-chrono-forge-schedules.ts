import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';

/**
 * Adds `chrono_forge_schedules`: one row per schedule (`@Scheduled()` or
 * `client.schedules.create()`), with its definition, where it stands (`next_tick_at`, `due_at`:
 * when a worker must look at it next) and what it did (last run, counters, last missed-ticks
 * report). Workers claim due rows with `FOR UPDATE SKIP LOCKED`, so each tick is handled once.
 */
export class AddChronoForgeSchedules1763900000021 implements MigrationInterface {
  name = 'AddChronoForgeSchedules1763900000021';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_schedules (
        name text PRIMARY KEY,
        workflow text NOT NULL,
        cron text NOT NULL,
        time_zone text NOT NULL DEFAULT 'UTC',
        input jsonb,
        overlap text NOT NULL DEFAULT 'skip'
          CHECK (overlap IN ('skip','bufferOne','allow','cancelPrevious')),
        catchup_window_ms bigint NOT NULL,
        jitter_ms bigint NOT NULL DEFAULT 0,
        origin text NOT NULL CHECK (origin IN ('decorator','client')),
        paused boolean NOT NULL DEFAULT false,
        next_tick_at timestamptz,
        due_at timestamptz,
        buffered_tick_at timestamptz,
        last_tick_at timestamptz,
        last_run_id bigint,
        last_run_key text,
        triggers jsonb NOT NULL DEFAULT '[]',
        backfills jsonb NOT NULL DEFAULT '[]',
        ticks_fired bigint NOT NULL DEFAULT 0,
        ticks_skipped bigint NOT NULL DEFAULT 0,
        ticks_missed bigint NOT NULL DEFAULT 0,
        last_missed jsonb,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_schedules_due_idx ON ${s}.chrono_forge_schedules (due_at)
         WHERE due_at IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP TABLE IF EXISTS ${migrationSchema(queryRunner)}.chrono_forge_schedules`,
    );
  }
}
