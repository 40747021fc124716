import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { SearchAttributes } from '../../definitions/search-attributes.js';

/**
 * Every state of a run, in the order they are listed to people (the dashboard, error messages):
 * waiting, working, needing attention, ended. The one list; `WorkflowState` is derived from it.
 *
 * @publicApi
 */
export const RUN_STATES = [
  'idle',
  'running',
  'compensating',
  'stalled',
  'failed',
  'completed',
  'compensated',
  'cancelled',
] as const;

/** States of a run (see {@link RUN_STATES}). */
export type WorkflowState = (typeof RUN_STATES)[number];

/**
 * A workflow run (`chrono_forge_workflows`). Read-only mapping for applications that want to query
 * runs with TypeORM; the engine writes through its own statements.
 *
 * @publicApi
 */
@Entity('chrono_forge_workflows')
@Index(['jobName', 'key'], { unique: true })
export class WorkflowEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('text') key: string;
  @Column('text', { name: 'job_name' }) jobName: string;
  @Column('jsonb', { nullable: true }) input: unknown;
  @Column('jsonb') options: Record<string, unknown>;
  @Column('jsonb') context: Record<string, unknown>;
  @Column('text') state: WorkflowState;
  @Column('int') attempt: number;
  @Column('jsonb', { name: 'retry_counts' }) retryCounts: Record<string, number>;
  /** Milliseconds, as text: PostgreSQL `bigint`. */
  @Column('bigint', { name: 'max_duration_ms' }) maxDurationMs: string;
  @Column('boolean', { name: 'wake_pending' }) wakePending: boolean;
  @Column('timestamptz', { name: 'locked_at', nullable: true }) lockedAt: Date | null;
  @Column('text', { name: 'locked_by', nullable: true }) lockedBy: string | null;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  /** When the run completed; `null` unless `state` is `completed`. */
  @Column('timestamptz', { name: 'completed_at', nullable: true }) completedAt: Date | null;
  /** When the run became `completed`, `failed` or `cancelled`. */
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt: Date | null;
  @Column('timestamptz', { name: 'next_run_at', nullable: true }) nextRunAt: Date | null;
  @Column('jsonb', { nullable: true }) result: unknown;
  /** The run's deadline (`@Workflow({ timeout })`, `start(…, { timeout })`, or its parent's). */
  @Column('timestamptz', { name: 'deadline_at', nullable: true }) deadlineAt: Date | null;
  /** Why the run was cancelled (`client.cancel(key, { reason })`). */
  @Column('text', { name: 'cancel_reason', nullable: true }) cancelReason: string | null;
  /** Why the run rolled back and which compensations failed (see `CompensationInfo`). */
  @Column('jsonb', { nullable: true }) compensation: unknown;
  /** The run's durable calls by position (see `NonDeterminismError`); `null` for older runs. */
  @Column('jsonb', { nullable: true }) history: Array<string | null> | null;
  /** The `@Workflow({ version })` the run started with. */
  @Column('text', { nullable: true }) version: string | null;
  /** The run `client.fork` copied this one from. */
  @Column('bigint', { name: 'forked_from', nullable: true }) forkedFrom: string | null;
  /** The run's search attributes (`ctx.setAttributes`), indexed for `client.list({ attributes })`. */
  @Column('jsonb') attributes: SearchAttributes;
  @Column('bigint', { name: 'parent_execution_log_id', nullable: true }) parentExecutionLogId:
    string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
}
