import { Injectable } from '@nestjs/common';
import type { QueryRunner } from 'typeorm';
import { WorkflowStore } from '../persistence/workflow.store.js';
import type { ScheduleRow } from './schedule-row.js';
import type { ScheduleSpec } from './schedule-spec.js';
import type { BackfillRange, TickPlan } from './tick-plan.js';

const SPEC_COLUMNS = 'workflow, cron, time_zone, input, overlap, catchup_window_ms, jitter_ms';
const SPEC_PARAMS = '$2::text, $3::text, $4::text, $5::jsonb, $6::text, $7::bigint, $8::bigint';
const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/**
 * PostgreSQL channel on which schedule writes tell worker processes to look again (payload: the
 * engine's schema). Idle workers sleep until their next due tick, so a write must wake them.
 */
export const SCHEDULES_CHANNEL = 'chronoforge_schedules';

/** What one claim did, for {@link ScheduleStore.saveClaim}. */
export interface ClaimOutcome {
  plan: TickPlan;
  /** The last live run started (not a backfill one). */
  lastRun: { id: string; key: string } | null;
  fired: number;
  missedReport: Record<string, unknown> | null;
  /** Why a tick's run could not be started, or `null` when every start succeeded. */
  error: string | null;
}

/** Statements on `chrono_forge_schedules`. */
@Injectable()
export class ScheduleStore {
  readonly table: string;
  private readonly wf: string;

  constructor(private readonly store: WorkflowStore) {
    this.table = `"${store.schema}".chrono_forge_schedules`;
    this.wf = store.wf;
  }

  /**
   * `write` (a statement `RETURNING name`) that also wakes every worker's schedule loop when it
   * changed a row: the notification is sent at commit, in the same round trip.
   */
  private notifying(write: string): string {
    const schema = this.store.schema.replace(/'/g, "''");
    return `WITH changed AS (${write})
      SELECT name, pg_notify('${SCHEDULES_CHANNEL}', '${schema}') FROM changed`;
  }

  private specValues(spec: ScheduleSpec): unknown[] {
    return [
      spec.workflow,
      spec.cron,
      spec.timeZone,
      spec.input === null ? null : JSON.stringify(spec.input),
      spec.overlap,
      spec.catchupWindowMs,
      spec.jitterMs,
    ];
  }

  /** Inserts a schedule; false when the name is taken. */
  async insert(
    name: string,
    spec: ScheduleSpec,
    origin: 'decorator' | 'client',
    paused: boolean,
    nextTickMs: number | null,
    dueMs: number | null,
  ): Promise<boolean> {
    const rows = await this.store.query(
      this
        .notifying(`INSERT INTO ${this.table} (name, ${SPEC_COLUMNS}, origin, paused, next_tick_at, due_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (name) DO NOTHING RETURNING name`),
      [name, ...this.specValues(spec), origin, paused, date(nextTickMs), date(dueMs)],
    );
    return rows.length > 0;
  }

  /**
   * Replaces the definition of a schedule of `origin` when it differs, with the given next tick
   * (a paused schedule keeps no due time unless requests wait). Returns whether a row changed.
   */
  async replaceSpec(
    name: string,
    spec: ScheduleSpec,
    origin: 'decorator' | 'client',
    nextTickMs: number | null,
    dueMs: number | null,
  ): Promise<boolean> {
    const rows = await this.store.query(
      this.notifying(`UPDATE ${this.table} s SET (${SPEC_COLUMNS}) = (${SPEC_PARAMS}),
         next_tick_at = $9, due_at = CASE WHEN s.paused AND s.triggers = '[]' AND s.backfills = '[]' THEN NULL ELSE $10::timestamptz END,
         updated_at = now()
       WHERE name = $1 AND origin = $11
         AND (${SPEC_COLUMNS}) IS DISTINCT FROM (${SPEC_PARAMS})
       RETURNING name`),
      [name, ...this.specValues(spec), date(nextTickMs), date(dueMs), origin],
    );
    return rows.length > 0;
  }

  /** Deletes `@Scheduled()` rows of `workflows` that are not in `keep`; returns their names. */
  async pruneDecorated(workflows: string[], keep: string[]): Promise<string[]> {
    const rows = await this.store.query<{ name: string }>(
      `DELETE FROM ${this.table} WHERE origin = 'decorator' AND workflow = ANY($1::text[])
         AND NOT (name = ANY($2::text[])) RETURNING name`,
      [workflows, keep],
    );
    return rows.map((r) => r.name);
  }

  /** A schedule with its last run's state. */
  async find(name: string): Promise<ScheduleRow | undefined> {
    const rows = await this.store.query<ScheduleRow>(
      `SELECT s.*, w.state AS last_run_state FROM ${this.table} s
       LEFT JOIN ${this.wf} w ON w.id = s.last_run_id WHERE s.name = $1`,
      [name],
    );
    return rows[0];
  }

  /** Every schedule (optionally of one workflow), by name. */
  async list(workflow?: string): Promise<ScheduleRow[]> {
    return this.store.query<ScheduleRow>(
      `SELECT s.*, w.state AS last_run_state FROM ${this.table} s
       LEFT JOIN ${this.wf} w ON w.id = s.last_run_id
       WHERE $1::text IS NULL OR s.workflow = $1 ORDER BY s.name`,
      [workflow ?? null],
    );
  }

  /** Pauses (dropping a buffered tick) or resumes with a fresh next tick; false when unchanged. */
  async setPaused(
    name: string,
    paused: boolean,
    nextTickMs: number | null,
    dueMs: number | null,
  ): Promise<boolean> {
    const rows = await this.store.query(
      paused
        ? `UPDATE ${this.table} SET paused = true, buffered_tick_at = NULL, updated_at = now(),
             due_at = CASE WHEN triggers = '[]' AND backfills = '[]' THEN NULL ELSE due_at END
           WHERE name = $1 AND NOT paused RETURNING name`
        : this
            .notifying(`UPDATE ${this.table} SET paused = false, next_tick_at = $2, updated_at = now(),
             due_at = CASE WHEN triggers = '[]' AND backfills = '[]' THEN $3::timestamptz ELSE due_at END
           WHERE name = $1 AND paused RETURNING name`),
      paused ? [name] : [name, date(nextTickMs), date(dueMs)],
    );
    return rows.length > 0;
  }

  /** Queues a manual tick at `atMs`, due at once; false when there is no such schedule. */
  async addTrigger(name: string, atMs: number): Promise<boolean> {
    const rows = await this.store.query(
      this.notifying(`UPDATE ${this.table} SET triggers = triggers || to_jsonb($2::bigint),
         due_at = LEAST(due_at, $3), updated_at = now() WHERE name = $1 RETURNING name`),
      [name, atMs, new Date(atMs)],
    );
    return rows.length > 0;
  }

  /** Queues a backfill range, due at once; false when there is no such schedule. */
  async addBackfill(name: string, range: BackfillRange, nowMs: number): Promise<boolean> {
    const rows = await this.store.query(
      this
        .notifying(`UPDATE ${this.table} SET backfills = backfills || jsonb_build_array($2::jsonb),
         due_at = LEAST(due_at, $3), updated_at = now() WHERE name = $1 RETURNING name`),
      [name, JSON.stringify(range), new Date(nowMs)],
    );
    return rows.length > 0;
  }

  /** Deletes a `client` schedule; returns the origin of the row it found (deleted or not). */
  async delete(name: string): Promise<'decorator' | 'client' | undefined> {
    const rows = await this.store.query<{ origin: 'decorator' | 'client'; deleted: boolean }>(
      `WITH d AS (DELETE FROM ${this.table} WHERE name = $1 AND origin = 'client' RETURNING origin)
       SELECT origin FROM d UNION ALL SELECT origin FROM ${this.table} WHERE name = $1`,
      [name],
    );
    return rows[0]?.origin;
  }

  /**
   * Locks up to `limit` due schedules of `workflows` that no other worker holds (`SKIP LOCKED`),
   * earliest due first, with their last runs' states; none when nothing is due.
   */
  async claimDue(
    nowMs: number,
    workflows: string[],
    limit: number,
    runner: QueryRunner,
  ): Promise<ScheduleRow[]> {
    return this.store.query<ScheduleRow>(
      `SELECT s.*, w.state AS last_run_state FROM ${this.table} s
       LEFT JOIN ${this.wf} w ON w.id = s.last_run_id
       WHERE s.due_at <= $1 AND s.workflow = ANY($2::text[])
       ORDER BY s.due_at LIMIT $3 FOR UPDATE OF s SKIP LOCKED`,
      [new Date(nowMs), workflows, limit],
      runner,
    );
  }

  /** Earliest due time among schedules of `workflows`. */
  async nextDueMs(workflows: string[]): Promise<number | null> {
    const rows = await this.store.query<{ due: Date | null }>(
      `SELECT min(due_at) AS due FROM ${this.table} WHERE workflow = ANY($1::text[])`,
      [workflows],
    );
    return rows[0]?.due ? rows[0].due.getTime() : null;
  }

  /** Writes what a claim did, in the claim's transaction. */
  async saveClaim(name: string, o: ClaimOutcome, runner: QueryRunner): Promise<void> {
    const { plan } = o;
    await this.store.query(
      `UPDATE ${this.table} SET next_tick_at = $2, due_at = $3, buffered_tick_at = $4,
         last_tick_at = COALESCE($5, last_tick_at), last_run_id = COALESCE($6, last_run_id),
         last_run_key = COALESCE($7, last_run_key), triggers = $8, backfills = $9,
         ticks_fired = ticks_fired + $10, ticks_skipped = ticks_skipped + $11,
         ticks_missed = ticks_missed + $12, last_missed = COALESCE($13, last_missed),
         last_error = CASE WHEN $10 > 0 OR $14::text IS NOT NULL THEN $14 ELSE last_error END,
         updated_at = now()
       WHERE name = $1`,
      [
        name,
        date(plan.nextTickMs),
        date(plan.dueMs),
        date(plan.bufferedTickMs),
        date(plan.lastTickMs),
        o.lastRun?.id ?? null,
        o.lastRun?.key ?? null,
        JSON.stringify(plan.triggers),
        JSON.stringify(plan.backfills),
        o.fired,
        plan.skipped.length,
        plan.missed?.count ?? 0,
        o.missedReport ? JSON.stringify(o.missedReport) : null,
        o.error,
      ],
      runner,
    );
  }
}
