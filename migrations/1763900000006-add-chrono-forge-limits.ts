import type { MigrationInterface, QueryRunner } from 'typeorm';
import { migrationSchema } from './1763900000000-init-chrono-forge.js';
import { limitFunctionsSql } from './1763900000006-limit-functions.js';

/**
 * Adds flow control (named limits: semaphores and multi-window rate limits, per key):
 *
 * - `chrono_forge_limits`: one row per named limit; `declared` is rewritten at boot from
 *   `forRoot({ limits })` (and the workflows' run-level limits), `override` is set by
 *   `client.limits.set()` and wins until `client.limits.reset()`.
 * - `chrono_forge_limit_keys`: one row per (limit, key), created on first use. Acquire and release
 *   lock it (`FOR UPDATE`), which serializes every decision about one key; `recent` holds the most
 *   recent grant times (newest first), as many as the largest rate window allows.
 * - `chrono_forge_limit_slots`: a held slot (`state = 'held'`, owned by the pass `owner`, i.e. the
 *   run's `locked_by`) or a waiter (`state = 'waiting'`), one per (limit, key, run, holder). The
 *   `id` orders waiters (FIFO within a priority).
 * - `chrono_forge_workflows.limited`: the run ever asked for a limit (set by the acquire's fence).
 * - PL/pgSQL functions (see `1763900000006-limit-functions.ts`): acquire, release, wake, and two
 *   triggers that release: when a flagged step log is written (the body ended) and when a limited
 *   run's lock leaves its pass or the run leaves idle/running.
 */
export class ChronoForgeLimits1763900000006 implements MigrationInterface {
  name = 'ChronoForgeLimits1763900000006';

  async up(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_limits (
        name text PRIMARY KEY,
        declared jsonb,
        override jsonb,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_limit_keys (
        name text NOT NULL,
        key text NOT NULL,
        recent timestamptz[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (name, key)
      )`);
    await queryRunner.query(`
      CREATE TABLE ${s}.chrono_forge_limit_slots (
        id bigserial PRIMARY KEY,
        name text NOT NULL,
        key text NOT NULL,
        run_id bigint NOT NULL,
        holder text NOT NULL,
        state text NOT NULL CHECK (state IN ('held', 'waiting')),
        owner text,
        priority integer NOT NULL DEFAULT 0,
        queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        acquired_at timestamptz,
        CONSTRAINT chrono_forge_limit_slots_holder_uq UNIQUE (name, key, run_id, holder)
      )`);
    await queryRunner.query(
      `CREATE INDEX chrono_forge_limit_slots_run_idx ON ${s}.chrono_forge_limit_slots (run_id)`,
    );
    await queryRunner.query(
      `CREATE INDEX chrono_forge_limit_slots_queue_idx
         ON ${s}.chrono_forge_limit_slots (name, key, state, priority, id)`,
    );
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows ADD COLUMN limited boolean NOT NULL DEFAULT false`,
    );
    for (const statement of limitFunctionsSql(s)) await queryRunner.query(statement);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const s = migrationSchema(queryRunner);
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS chrono_forge_limit_run_moved ON ${s}.chrono_forge_workflows`,
    );
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS chrono_forge_limit_step_ended ON ${s}.chrono_forge_execution_logs`,
    );
    await queryRunner.query(`DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_run_moved()`);
    await queryRunner.query(`DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_step_ended()`);
    await queryRunner.query(
      `DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_release(bigint, text, text[], text)`,
    );
    await queryRunner.query(
      `DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_acquire(bigint, text, text, integer, text[], text[])`,
    );
    await queryRunner.query(`DROP FUNCTION IF EXISTS ${s}.chrono_forge_limit_wake(text, text)`);
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_limit_slots`);
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_limit_keys`);
    await queryRunner.query(`DROP TABLE IF EXISTS ${s}.chrono_forge_limits`);
    await queryRunner.query(
      `ALTER TABLE ${s}.chrono_forge_workflows DROP COLUMN IF EXISTS limited`,
    );
  }
}
