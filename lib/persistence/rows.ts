import type { StoredValue } from '../util/serialization.util.js';
import type { ExecutionLogState } from '../database/entities/execution-log.entity.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { SearchAttributes } from '../definitions/search-attributes.js';

/** A run as the executor loads it when it takes the lock. */
export interface RunRow {
  id: string;
  key: string;
  job_name: string;
  input: unknown;
  context: Record<string, unknown>;
  state: WorkflowState;
  attempt: number;
  retry_counts: Record<string, number>;
  /** PostgreSQL `bigint`, which the driver returns as text. */
  max_duration_ms: string;
  /** The run's deadline, if it has one. */
  deadline_at: Date | null;
  /** The run's durable calls by position (`null`: recorded before histories existed). */
  history?: Array<string | null> | null;
  /** The `@Workflow({ version })` the run started with. */
  version?: string | null;
  /** A rollback's record: `cause`, and `compensate: false` for a cancel that only cleans up. */
  compensation?: { cause?: string; compensate?: boolean } | null;
  /** Why the run was cancelled. */
  cancel_reason?: string | null;
  /** Whether the run is a child (its end wakes a parent). Read by the acquire. */
  has_parent?: boolean;
}

/** What a new run may carry besides its key, input and lease (see `WorkflowStore.insertRun`). */
export interface NewRunExtras {
  /** Deadline, counted from now. */
  timeoutMs?: number | null;
  /** The `@Workflow({ version })` the run starts with. */
  version?: string | null;
  /** Its first search attributes. */
  attributes?: SearchAttributes;
}

/** A step log as the replay needs it. */
export interface LogRow {
  id: string;
  step_name: string;
  state: ExecutionLogState;
  attempts: number;
  result: StoredValue | null;
  metadata: Record<string, unknown>;
}

/** An error to record in `chrono_forge_error_logs`. */
export interface ErrorRecord {
  errorClass: string;
  message: string;
  backtrace: string | null;
  context: Record<string, unknown> | null;
}

/** What the release of a pass writes. */
export interface ReleaseSpec {
  /** `compensating`: a rollback pass halted (a compensation waits for its retry). */
  state: 'idle' | 'stalled' | 'compensating';
  nextRunAt: Date | null;
  attempt: number;
  retryCounts: Record<string, number>;
  context: Record<string, unknown> | null;
  error?: ErrorRecord;
  /** A stalling release: the step whose `ExecutionFailedError` escaped the workflow method. */
  stalledStep?: string | null;
  /** The run's history of durable calls to store (`null`/absent: unchanged). */
  history?: HistoryWrite | null;
}

/**
 * Durable state (`ctx.state`) a pass changed and has not written yet. A checkpoint of that pass
 * writes it in the same statement, so a state change made before a checkpoint is durable with it.
 */
export interface StateCarrier {
  /**
   * The whole state and its version when it changed since it was last written, else `null`. Waits
   * first until no other write of the pass that carries the state is in flight: parallel
   * checkpoints (steps in `Promise.all`) write the state one at a time, so an older state never
   * lands after a newer one. A claim must be ended with {@link StateClaim.done}.
   */
  claimState(): Promise<StateClaim | null>;
  /**
   * Whether a write now would carry no state: nothing changed since the last stored version and no
   * state-carrying write is in flight (so a checkpoint may skip the claim).
   */
  stateSettled(): boolean;
}

/**
 * A completed step's checkpoint: run, the pass's lock owner, step, attempts, stored result,
 * metadata, start time; `fresh`: its first attempt (no row yet); `carrier`: the pass's durable
 * state, written with it when it changed since the last checkpoint.
 */
export interface CheckpointArgs {
  workflowId: string;
  owner: string;
  stepName: string;
  attempts: number;
  result: StoredValue | null;
  metadata: Record<string, unknown>;
  startedAt: Date;
  fresh: boolean;
  carrier?: StateCarrier;
  /**
   * The caller needs no stored log id (a plain step's log, which nothing references): a write that
   * can may skip reading it back and answer with {@link unreadLogId}'s stand-in.
   */
  anyId?: boolean;
}

/** Above every id the logs' `bigserial` gives out in practice (2^62; the type's maximum is 2^63 - 1). */
const UNREAD_LOG_IDS = 2n ** 62n;
let unreadLogs = 0n;

/**
 * The id a pass gives a log it wrote without reading the log's id back (see
 * {@link CheckpointArgs.anyId}): above every stored id, increasing in the order stand-ins are made.
 * Never stored, and not ordered against the real ids a pass gets back for its other writes. Log
 * ids only order replayed calls (`RunScope.replayTurn`, over the ids a pass read at its start)
 * and name the logs other rows reference; a plain step's log is referenced by nothing and never
 * replayed in the pass that wrote it (each call of a pass has its own step name: the occurrence
 * counter's, or a compensation's or cancel handler's, which run once per pass).
 */
export function unreadLogId(): string {
  unreadLogs += 1n;
  return String(UNREAD_LOG_IDS + unreadLogs);
}

/** Whether `id` is a stand-in of {@link unreadLogId}, not a stored log's id. */
export function isUnreadLogId(id: string): boolean {
  return BigInt(id) >= UNREAD_LOG_IDS;
}

/** The state one write carries (see {@link StateCarrier.claimState}). */
export interface StateClaim {
  readonly state: Record<string, unknown>;
  readonly version: number;
  /** The write ended; `saved`: it committed (or will commit with its transaction) the state. */
  done(saved: boolean): void;
}

/**
 * How a pass-ending statement changes a run's history: the whole history, or the entries to
 * append to the stored one, which has `at` entries (a pass that only added calls sends those).
 */
export type HistoryWrite = Array<string | null> | { at: number; append: Array<string | null> };
/** A run that ended, and the parent its end woke (pushed fan-in), if any. */
export interface RunEnded {
  /** The parent run this child's end woke: enqueue it when `state` is `idle`. */
  woken: { id: string; state: string; nextRunAt: Date | null } | null;
}

export interface EndRow {
  id: string;
  woken_id: string | null;
  woken_state: string | null;
  woken_at: Date | null;
}

export function ended(rows: EndRow[]): RunEnded | false {
  const [row] = rows;
  if (!row) return false;
  if (row.woken_id === null) return { woken: null };
  return { woken: { id: row.woken_id, state: row.woken_state ?? '', nextRunAt: row.woken_at } };
}
