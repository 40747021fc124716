import { performance } from 'node:perf_hooks';
import type { Pool, PoolClient, QueryResult } from 'pg';

/** One statement the engine sent, as seen from its pg pool. */
export interface StatementEvent {
  label: string;
  text: string;
  /** First bind parameter as text: the run id for every engine statement about one run. */
  runId: string | undefined;
  /**
   * The runs the statement wrote: `[runId]`, or for a group-committed statement (its first
   * parameter an array of run ids) the runs of the rows it wrote (not those it only locked).
   */
  runIds: string[];
  values: readonly unknown[];
  /** `Date.now()` when the statement was sent. */
  sentAt: number;
  /** `performance.now()` when sent and when its reply (or error) arrived. */
  start: number;
  end: number;
  rowCount: number;
}

export interface LabelStats {
  count: number;
  ms: number;
}

/** Counters at one moment; subtract two with `PgCounter.since`. */
export interface CounterSnapshot {
  roundTrips: number;
  statements: number;
  byLabel: Map<string, LabelStats>;
}

/** Engine statements by what they do (texts from lib/persistence/*.sql.ts and timers/). */
const LABELS: Array<[string, RegExp]> = [
  ['tx-control', /^\s*(BEGIN|START TRANSACTION|COMMIT|ROLLBACK)\b/i],
  // A transactional step's checkpoint and COMMIT, one query string (lib/database/step-transaction.ts).
  ['completeStep+COMMIT', /\bcf_commit_\w+|\bAS cf_fenced\b/],
  ['limitAcquire', /chrono_forge_limit_acquire/],
  ['acquireMany', /AS u\(rid, rowner, rnow/],
  ['acquire', /SET state = CASE WHEN state = 'compensating' THEN state ELSE 'running' END/],
  ['acquire-busy', /SET wake_pending = true/],
  ['completeMany', /AS v\(rid, rowner, rresult/],
  ['complete', /\$workflow_completion\$/],
  ['fail', /\$workflow_failure\$/],
  ['release', /SET state = \$3::text/],
  ['recordTick', /WITH c AS \(\s*UPDATE/],
  ['failStepAttempt', /WITH l AS \(/],
  ['completeStep', /SELECT \$1, \$3, 'completed'/],
  ['completeSteps', /'completed', v\.attempts/],
  ['savePendingLog', /SELECT \$1, \$3, 'pending'/],
  ['insertRuns', /AS v\(key, job_name, input/],
  ['insertRun', /ON CONFLICT \(job_name, key\) DO NOTHING/],
  ['findLog', /^\s*SELECT id, step_name, state, attempts, result, metadata FROM/],
  ['sweep', /UNION ALL/],
  // The limits' part of the recovery sweep.
  ['sweep', /SELECT DISTINCT name, key FROM/],
  // The stalled deadlines' part of the recovery sweep (lib/sagas/stalled-deadlines.ts).
  ['sweep', /WHERE s\.state = 'stalled'/],
];

/** The labels of statements that complete runs (one, or several group-committed). */
export const COMPLETE_LABELS: ReadonlySet<string> = new Set(['complete', 'completeMany']);

/**
 * Labels by statement text: the engine's texts are a few dozen constants, and labelling one by the
 * regexes above costs up to ~40 µs (measured), which would be billed to the engine's per-step time.
 */
const labels = new Map<string, string>();

export function labelOf(text: string): string {
  // A transactional step's checkpoint and COMMIT carry its values as literals: a new text per
  // step, which would miss the cache below every time (and fill it).
  if (text.startsWith('EXECUTE cf_commit_') || text.startsWith('PREPARE cf_commit_'))
    return 'completeStep+COMMIT';
  let label = labels.get(text);
  if (label === undefined) {
    label = LABELS.find(([, re]) => re.test(text))?.[0];
    label ??= `other: ${text.replace(/\s+/g, ' ').trim().slice(0, 48)}`;
    if (labels.size < 5_000) labels.set(text, label);
  }
  return label;
}

type QueryFn = (this: PoolClient, ...args: unknown[]) => unknown;
type QueryCallback = (err: Error | null, res?: QueryResult) => void;
type ConnectCallback = (err: Error | undefined, client?: PoolClient, done?: () => void) => void;
type ConnectFn = (cb?: ConnectCallback) => Promise<PoolClient> | undefined;

/**
 * Counts the statements and round trips of a pg pool without touching the engine: every pooled
 * client is patched when it is checked out (`pool.query` checks out through `pool.connect` too, so
 * it is counted exactly once). Each `client.query` is one round trip (pg sends Parse/Bind/Execute/
 * Sync in one flight); BEGIN/COMMIT/ROLLBACK count as round trips but not as statements.
 */
export class PgCounter {
  private roundTrips = 0;
  private statements = 0;
  private readonly byLabel = new Map<string, LabelStats>();
  private readonly listeners = new Set<(e: StatementEvent) => void>();
  private readonly patched = new WeakSet<object>();

  static attach(pool: Pool): PgCounter {
    const counter = new PgCounter();
    const original = pool.connect.bind(pool) as unknown as ConnectFn;
    const connect: ConnectFn = (cb) => {
      if (cb) {
        return original((err, client, done) => {
          if (client) counter.patch(client);
          cb(err, client, done);
        });
      }
      return (original() as Promise<PoolClient>).then((client) => {
        counter.patch(client);
        return client;
      });
    };
    Object.defineProperty(pool, 'connect', { value: connect, writable: true, configurable: true });
    return counter;
  }

  /** Calls `listener` after each statement; returns the unsubscribe function. */
  on(listener: (e: StatementEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): CounterSnapshot {
    const byLabel = new Map<string, LabelStats>();
    for (const [k, v] of this.byLabel) byLabel.set(k, { ...v });
    return { roundTrips: this.roundTrips, statements: this.statements, byLabel };
  }

  /** What happened since `before`. */
  since(before: CounterSnapshot): CounterSnapshot {
    const now = this.snapshot();
    const byLabel = new Map<string, LabelStats>();
    for (const [k, v] of now.byLabel) {
      const b = before.byLabel.get(k) ?? { count: 0, ms: 0 };
      if (v.count > b.count) byLabel.set(k, { count: v.count - b.count, ms: v.ms - b.ms });
    }
    return {
      roundTrips: now.roundTrips - before.roundTrips,
      statements: now.statements - before.statements,
      byLabel,
    };
  }

  private patch(client: PoolClient): void {
    if (this.patched.has(client)) return;
    this.patched.add(client);
    const original = client.query as unknown as QueryFn;
    const query = (...args: unknown[]): unknown => {
      const first = args[0] as { text?: string; values?: unknown[]; submit?: unknown } | string;
      if (typeof first === 'object' && typeof first?.submit === 'function') {
        // The engine's statements as pg Query objects (lib/database/named-query.ts; a transactional
        // step's checkpoint and COMMIT), answered through their own callback or, from pool.query,
        // the pool's (the third argument). Streams and other submittables: not engine SQL.
        const sub = first as { text?: unknown; values?: unknown[]; callback?: QueryCallback };
        const subText = typeof sub.text === 'string' ? sub.text : '';
        const own = typeof sub.callback === 'function';
        const cbAt = args.findIndex((a, i) => i > 0 && typeof a === 'function');
        if (subText && (own || cbAt >= 0)) {
          const done = this.begin(subText, sub.values ?? []);
          const wrap =
            (cb: QueryCallback): QueryCallback =>
            (err, res) => {
              // Several statements in one string (the COMMIT string): an array of results.
              done(
                Array.isArray(res) ? 0 : (res?.rowCount ?? 0),
                Array.isArray(res) ? undefined : res?.rows,
              );
              cb(err, res);
            };
          if (own) sub.callback = wrap(sub.callback!);
          else args[cbAt] = wrap(args[cbAt] as QueryCallback);
        }
        return original.apply(client, args);
      }
      const text = typeof first === 'string' ? first : String(first?.text ?? '');
      const values = Array.isArray(args[1]) ? args[1] : (first as { values?: unknown[] })?.values;
      const done = this.begin(text, values ?? []);
      const cbAt = args.findIndex((a) => typeof a === 'function');
      if (cbAt >= 0) {
        const cb = args[cbAt] as QueryCallback;
        args[cbAt] = (err: Error | null, res?: QueryResult) => {
          done(res?.rowCount ?? 0, res?.rows);
          cb(err, res);
        };
        return original.apply(client, args);
      }
      return (original.apply(client, args) as Promise<QueryResult>).then(
        (res) => {
          done(res?.rowCount ?? 0, res?.rows);
          return res;
        },
        (err: unknown) => {
          done(0);
          throw err;
        },
      );
    };
    Object.defineProperty(client, 'query', { value: query, writable: true, configurable: true });
  }

  private begin(
    text: string,
    values: readonly unknown[],
  ): (rowCount: number, rows?: readonly unknown[]) => void {
    const label = labelOf(text);
    this.roundTrips++;
    if (label !== 'tx-control') this.statements++;
    const sentAt = Date.now();
    const start = performance.now();
    return (rowCount, rows = []) => {
      const end = performance.now();
      const stats = this.byLabel.get(label) ?? { count: 0, ms: 0 };
      stats.count++;
      stats.ms += end - start;
      this.byLabel.set(label, stats);
      const runId = values[0] === undefined || values[0] === null ? undefined : String(values[0]);
      // NOTE: a group-committed checkpoint or completion also returns a row per run it locked
      // (checkpoints: `id` NULL; completions: `done` false); only the rows it wrote count.
      const runIds = Array.isArray(values[0])
        ? rows
            .map((r) => r as { workflow_id?: unknown; id?: unknown; done?: unknown })
            .filter((row) => row.done !== false && !(row.id === null && 'workflow_id' in row))
            .map((row) => String(row.workflow_id ?? row.id))
        : runId === undefined
          ? []
          : [runId];
      const event: StatementEvent = {
        label,
        text,
        runId: Array.isArray(values[0]) ? undefined : runId,
        runIds,
        values,
        sentAt,
        start,
        end,
        rowCount,
      };
      for (const l of this.listeners) l(event);
    };
  }
}
