import { performance } from 'node:perf_hooks';
import { Job, Queue } from 'bullmq';
import { WorkflowExecutor } from '../lib/executor/workflow.executor.js';
import { COMPLETE_LABELS, type PgCounter } from './pg-counter.js';
import { fmt, median, percentile } from './support.js';

/** Epoch ms with sub-ms resolution (comparable with `Date.now()` and stored timestamps). */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** Per run id: the last time each piece of a wake-up happened (epoch ms). */
interface Marks {
  timerFired?: number;
  promoted?: number;
  picked?: number;
  acquireSent?: number;
  acquired?: number;
  /** First pass: its acquire sent, its release returned; the wake pass's complete returned. */
  firstAcquire?: number;
  released?: number;
  completed?: number;
}

/**
 * Where a wake-up's lateness goes, on the Redis queue: instruments this process's BullMQ
 * `Queue.getJob` / `Job.promote` (the local wake timer's two round trips: its callback calls
 * getJob at once, so getJob's start is the timer firing), the executor's `runPass` (the worker
 * picked the job), the `acquire` statement (sent, returned). The workflow records its own entry.
 */
export class WakePieces {
  readonly marks = new Map<string, Marks>();
  /** Passes running in this process when a local timer's promote returned, one per promote. */
  readonly busyAtPromote: number[] = [];
  private active = 0;
  private readonly jobRun = new Map<string, string>();
  private readonly restore: Array<() => void> = [];

  constructor(
    executor: WorkflowExecutor,
    counter: PgCounter,
    private readonly concurrency: number,
  ) {
    const mark = (id: string, k: keyof Marks, at = epochNow()) =>
      this.marks.set(id, { ...this.marks.get(id), [k]: at });
    const jobIdRun = (jobId: string) => /^run[-:_]?(\d+)/.exec(jobId)?.[1];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const pieces = this;
    const getJob = Queue.prototype.getJob;
    const fired = new Map<string, number>();
    Queue.prototype.getJob = function (this: Queue, jobId: string) {
      fired.set(jobId, epochNow());
      return getJob.call(this, jobId);
    } as typeof getJob;
    const promote = Job.prototype.promote;
    Job.prototype.promote = async function (this: Job) {
      const result = await promote.call(this);
      const id = (this.data as { workflowId?: string }).workflowId ?? jobIdRun(this.id ?? '');
      if (id) {
        pieces.busyAtPromote.push(pieces.active);
        mark(id, 'timerFired', fired.get(this.id ?? ''));
        mark(id, 'promoted');
      }
      return result;
    };
    const runPass = executor.runPass.bind(executor);
    executor.runPass = (workflowId: string, jobId: string) => {
      mark(workflowId, 'picked');
      this.jobRun.set(jobId, workflowId);
      this.active++;
      return runPass(workflowId, jobId).finally(() => this.active--);
    };
    const off = counter.on((e) => {
      if (e.rowCount === 0) return;
      const [start, end] = [performance.timeOrigin + e.start, performance.timeOrigin + e.end];
      for (const id of e.runIds) {
        if (e.label === 'release') mark(id, 'released', end);
        if (COMPLETE_LABELS.has(e.label)) mark(id, 'completed', end);
        if (e.label !== 'acquire' && e.label !== 'acquireMany') continue;
        if (this.marks.get(id)?.firstAcquire === undefined) mark(id, 'firstAcquire', start);
        mark(id, 'acquireSent', start);
        mark(id, 'acquired', end);
      }
    });
    this.restore.push(
      () => (Queue.prototype.getJob = getJob),
      () => (Job.prototype.promote = promote),
      () => (executor.runPass = runPass),
      off,
    );
  }

  /** Clears the marks (after a warm-up). */
  reset(): void {
    this.marks.clear();
    this.busyAtPromote.length = 0;
  }

  /** Removes the instrumentation. */
  detach(): void {
    for (const r of this.restore.splice(0)) r();
  }

  /**
   * "wake_at → timer fired p50/p99, …" for runs `wakes` (run id, wake_at, method entered at and
   * the step after the sleep ran, all epoch ms): the pieces are consecutive, so they add up.
   */
  describe(wakes: Array<{ id: string; wakeAt: number; entered?: number; after: number }>): string {
    const names: Array<[string, (m: Marks, w: (typeof wakes)[number]) => number | undefined]> = [
      ['wake_at → local timer fired', (m, w) => sub(m.timerFired, w.wakeAt)],
      ['→ promoted (getJob + promote)', (m) => sub(m.promoted, m.timerFired)],
      ['→ worker picked the job (runPass)', (m) => sub(m.picked, m.promoted)],
      ['→ acquire sent', (m) => sub(m.acquireSent, m.picked)],
      ['→ acquire returned (lock + logs)', (m) => sub(m.acquired, m.acquireSent)],
      ['→ workflow method entered', (m, w) => sub(w.entered, m.acquired)],
      ['→ step after the sleep ran (wait$nap completed)', (m, w) => sub(w.after, w.entered)],
    ];
    const promotedLocally = wakes.filter((w) => this.marks.get(w.id)?.promoted).length;
    const stat = (f: (m: Marks, w: (typeof wakes)[number]) => number | undefined) => {
      const v = wakes.flatMap((w) => {
        const x = f(this.marks.get(w.id) ?? {}, w);
        return x === undefined ? [] : [x];
      });
      return `p50 ${fmt(median(v), 1)} / p99 ${fmt(percentile(v, 99), 1)} ms (${v.length})`;
    };
    const byWake = [...wakes].sort((a, b) => a.wakeAt - b.wakeAt);
    const late = (ws: typeof wakes) => fmt(median(ws.map((w) => w.after - w.wakeAt)), 1);
    const half = Math.floor(byWake.length / 2);
    const overall =
      `wake_at spread ${fmt(byWake[byWake.length - 1].wakeAt - byWake[0].wakeAt, 0)} ms; ` +
      `lateness p50 of the first / second half of the wakes ${late(byWake.slice(0, half))} / ` +
      `${late(byWake.slice(half))} ms; wake_at → worker picked the job ` +
      `${stat((m, w) => sub(m.picked, w.wakeAt))}; pass time (acquire sent → last statement ` +
      `returned): first pass ${stat((m) => sub(m.released, m.firstAcquire))}, wake-up pass ` +
      `${stat((m) => sub(m.completed, m.acquireSent))}`;
    const parts = names.map(([name, f]) => {
      const v = wakes.flatMap((w) => {
        const x = f(this.marks.get(w.id) ?? {}, w);
        return x === undefined ? [] : [x];
      });
      return `${name} p50 ${fmt(median(v), 1)} / p99 ${fmt(percentile(v, 99), 1)} ms (${v.length})`;
    });
    const busy = this.busyAtPromote;
    const full = busy.filter((b) => b >= this.concurrency).length;
    return (
      `${overall}; passes running when a local timer's promote returned: mean ` +
      `${fmt(busy.reduce((x, y) => x + y, 0) / Math.max(1, busy.length), 1)} of ` +
      `${this.concurrency}, all ${this.concurrency} slots busy in ${full} of ${busy.length}; pieces: ${parts.join('; ')}; promoted by the local timer: ` +
      `${promotedLocally} of ${wakes.length} (the others BullMQ's worker promoted first, on a fetch)`
    );
  }
}

const sub = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a - b;
