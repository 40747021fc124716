import { Injectable } from '@nestjs/common';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { RunListStore } from './run-list.store.js';

/** The time ranges the analytics page offers, with the width of one chart bucket. */
export const ANALYTICS_RANGES = {
  '1h': { ms: 3_600_000, bucketMs: 300_000 },
  '24h': { ms: 86_400_000, bucketMs: 3_600_000 },
  '7d': { ms: 604_800_000, bucketMs: 21_600_000 },
} as const;

/** A time range of the analytics page. */
export type AnalyticsRange = keyof typeof ANALYTICS_RANGES;

/** What a run waiting (idle) waits on, by the first rule that matches (see {@link AnalyticsStore.waiting}). */
export type WaitReason = 'lock' | 'limit' | 'signal' | 'timer' | 'children' | 'queued';

/** Runs started, completed and failed in each bucket of a range, for one workflow. */
export interface WorkflowSeries {
  workflow: string;
  started: number[];
  completed: number[];
  failed: number[];
}

/** Durations (first start to completion) of the runs completed in the range, per workflow. */
export interface DurationRow {
  workflow: string;
  completed: number;
  p50_ms: number;
  p95_ms: number;
}

/** An error class and message recorded in the range, most frequent first. */
export interface TopErrorRow {
  workflow: string;
  error_class: string;
  message: string | null;
  n: number;
  last_at: Date;
}

/** Runs waiting now, per workflow and reason. */
export interface WaitingRow {
  workflow: string;
  reason: WaitReason;
  n: number;
}

/** Everything the analytics page shows for a range. */
export interface Analytics {
  range: AnalyticsRange;
  /** Start of the first bucket (the range's start, rounded down to a bucket). */
  since: Date;
  bucketMs: number;
  buckets: number;
  series: WorkflowSeries[];
  durations: DurationRow[];
  errors: TopErrorRow[];
  waiting: WaitingRow[];
}

/** The most workflows the page charts (the busiest ones), and errors it lists. */
const MAX_WORKFLOWS = 20;
const TOP_ERRORS = 10;

/** The `range` parameter, validated (default `24h`). */
export function analyticsRange(value: string | undefined): AnalyticsRange {
  if (value === undefined) return '24h';
  if (!Object.hasOwn(ANALYTICS_RANGES, value))
    throw new InvalidOptionsError(`Unknown range "${value}"; use 1h, 24h or 7d.`);
  return value as AnalyticsRange;
}

/**
 * Aggregates of the analytics page, each one statement over an indexed range: runs started
 * (`created_at` index), finished (`state, finished_at` index), errors (`created_at` index), and
 * the idle runs (`next_run_at` partial index on `state = 'idle'`).
 */
@Injectable()
export class AnalyticsStore {
  constructor(private readonly runs: RunListStore) {}

  async read(range: AnalyticsRange, workflow?: string, now = Date.now()): Promise<Analytics> {
    const { ms, bucketMs } = ANALYTICS_RANGES[range];
    const since = new Date(Math.floor((now - ms) / bucketMs) * bucketMs);
    const buckets = Math.ceil((now - since.getTime() + 1) / bucketMs);
    const [series, durations, errors, waiting] = await Promise.all([
      this.series(since, bucketMs, buckets, workflow),
      this.durations(since, workflow),
      this.errors(since, workflow),
      this.waiting(workflow),
    ]);
    return { range, since, bucketMs, buckets, series, durations, errors, waiting };
  }

  private async series(
    since: Date,
    bucketMs: number,
    buckets: number,
    workflow?: string,
  ): Promise<WorkflowSeries[]> {
    const wf = this.runs.table('workflows');
    const rows = await this.runs.query<{ workflow: string; kind: string; b: number; n: number }>(
      `SELECT workflow, kind, floor(extract(epoch FROM at - $1::timestamptz) * 1000 / $2)::int AS b,
         count(*)::int AS n
       FROM (SELECT job_name AS workflow, 'started' AS kind, created_at AS at FROM ${wf}
               WHERE created_at >= $1 AND ($3::text IS NULL OR job_name = $3)
             UNION ALL
             SELECT job_name, state, finished_at FROM ${wf}
               WHERE state IN ('completed', 'failed') AND finished_at >= $1
                 AND ($3::text IS NULL OR job_name = $3)) x
       GROUP BY 1, 2, 3`,
      [since, bucketMs, workflow ?? null],
    );
    const byWorkflow = new Map<string, WorkflowSeries>();
    for (const r of rows) {
      if (r.b < 0 || r.b >= buckets) continue;
      let s = byWorkflow.get(r.workflow);
      if (!s) {
        const zeros = () => new Array<number>(buckets).fill(0);
        s = { workflow: r.workflow, started: zeros(), completed: zeros(), failed: zeros() };
        byWorkflow.set(r.workflow, s);
      }
      s[r.kind as 'started' | 'completed' | 'failed'][r.b] += r.n;
    }
    const total = (s: WorkflowSeries) =>
      [...s.started, ...s.completed, ...s.failed].reduce((a, b) => a + b, 0);
    return [...byWorkflow.values()]
      .sort((a, b) => total(b) - total(a) || a.workflow.localeCompare(b.workflow))
      .slice(0, MAX_WORKFLOWS);
  }

  private durations(since: Date, workflow?: string): Promise<DurationRow[]> {
    return this.runs.query<DurationRow>(
      `SELECT job_name AS workflow, count(*)::int AS completed,
         round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::float8 AS p50_ms,
         round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::float8 AS p95_ms
       FROM (SELECT job_name, extract(epoch FROM finished_at - coalesce(started_at, created_at)) * 1000 AS ms
             FROM ${this.runs.table('workflows')}
             WHERE state = 'completed' AND finished_at >= $1 AND ($2::text IS NULL OR job_name = $2)) d
       GROUP BY 1 ORDER BY 1 LIMIT ${MAX_WORKFLOWS * 10}`,
      [since, workflow ?? null],
    );
  }

  private errors(since: Date, workflow?: string): Promise<TopErrorRow[]> {
    return this.runs.query<TopErrorRow>(
      `SELECT w.job_name AS workflow, e.error_class, left(e.error_message, 300) AS message,
         count(*)::int AS n, max(e.created_at) AS last_at
       FROM ${this.runs.table('error_logs')} e JOIN ${this.runs.table('workflows')} w ON w.id = e.workflow_id
       WHERE e.created_at >= $1 AND ($2::text IS NULL OR w.job_name = $2)
       GROUP BY 1, 2, 3 ORDER BY n DESC, last_at DESC LIMIT ${TOP_ERRORS}`,
      [since, workflow ?? null],
    );
  }

  /**
   * Idle runs per workflow and what they wait on: a `ctx.withLock` key (`lock`), a named limit
   * (`limit`) — the slots `client.get(key).waitingOn` reports —, a signal (a pending `signal$`
   * log), a timer (a pending sleep, waitUntil, continueIf or repeat log, or a wake-up time still
   * ahead), child runs (a pending call, join, branch or merge), or nothing: due and `queued`.
   */
  async waiting(workflow?: string): Promise<WaitingRow[]> {
    // NOTE: the pending logs of each idle run through the (workflow_id, step_name) index and the
    // waiting slots aggregated once: no scan of the whole step-log table, no per-run subquery of
    // the slots (the previous EXISTS per reason hashed every pending log of the schema).
    const kinds = (list: string) => `l.kinds && ARRAY[${list}]`;
    return this.runs.query<WaitingRow>(
      `SELECT workflow, reason, count(*)::int AS n FROM (
         SELECT w.job_name AS workflow, CASE
           WHEN s.lock THEN 'lock'
           WHEN s.lock IS NOT NULL THEN 'limit'
           WHEN ${kinds(`'signal'`)} THEN 'signal'
           WHEN ${kinds(`'wait', 'wait_until', 'continue_if', 'durably_repeat'`)}
             OR w.next_run_at > now() THEN 'timer'
           WHEN ${kinds(`'call', 'child', 'join', 'branch', 'merge'`)} THEN 'children'
           ELSE 'queued' END AS reason
         FROM ${this.runs.table('workflows')} w
         LEFT JOIN LATERAL (SELECT array_agg(split_part(l.step_name, '$', 1)) AS kinds
           FROM ${this.runs.table('execution_logs')} l
           WHERE l.workflow_id = w.id AND l.state = 'pending') l ON true
         LEFT JOIN (SELECT run_id, bool_or(name LIKE '$lock%') AS lock
           FROM ${this.runs.table('limit_slots')} WHERE state = 'waiting' GROUP BY 1) s
           ON s.run_id = w.id
         WHERE w.state = 'idle' AND ($1::text IS NULL OR w.job_name = $1)) r
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [workflow ?? null],
    );
  }
}
