import type { Queue } from 'bullmq';
import { RUN_JOB } from '../options/chrono-forge.constants.js';
import { RESWEEP_MS, type RunJobData, runJobId } from './job-data.js';
import { QueueUnavailableError } from '../errors/queue-unavailable.error.js';
import { redactUrl } from '../util/redact.util.js';

/** How long boot waits for the queue's Redis server before failing with QueueUnavailableError. */
export const REDIS_BOOT_TIMEOUT_MS = 10_000;

/**
 * Waits until `queue`'s Redis connection is ready; throws QueueUnavailableError (URL redacted, with
 * the last connection error) after REDIS_BOOT_TIMEOUT_MS or when Redis refuses the connection.
 * BullMQ itself would retry forever, so boot would never end.
 */
export async function waitForRedis(
  queue: Queue,
  url: string,
  lastError: () => Error | undefined,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const last = lastError();
      const why = last ? `: ${redactUrl(last.message)}` : '';
      reject(
        new QueueUnavailableError(
          `Redis at ${redactUrl(url)} did not answer within ${REDIS_BOOT_TIMEOUT_MS / 1000} s${why}. ` +
            'Start it, fix queue.redis (url, sentinel or cluster), or use queue: { postgres: true }.',
        ),
      );
    }, REDIS_BOOT_TIMEOUT_MS);
  });
  try {
    await Promise.race([queue.waitUntilReady(), timeout]);
  } catch (err) {
    if (err instanceof QueueUnavailableError) throw err;
    throw new QueueUnavailableError(
      `Redis at ${redactUrl(url)} refused the connection: ${redactUrl((err as Error).message)}.`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Job states in which a job waits for a live worker to pick it up. Not `delayed`: a delayed job
 * of a run the engine's clock finds overdue is late (a test clock, clock skew), not queued.
 */
const WAITING_STATES = new Set<string>(['waiting', 'prioritized']);

/** Whether one of `jobIds` waits in the queue (not `active`: its worker may be dead). */
export async function anyWaiting(queue: Queue, jobIds: string[]): Promise<boolean> {
  try {
    const states = await Promise.all(jobIds.map((id) => queue.getJobState(id)));
    return states.some((s) => WAITING_STATES.has(s));
  } catch {
    return false; // when in doubt, enqueue: a duplicate job bounces off the run's lock
  }
}

/** Only wakes within this horizon get a local timer … */
const LOCAL_WAKE_HORIZON_MS = 10 * 60_000;
/** … and at most this many at once. */
const LOCAL_WAKE_MAX = 10_000;

/**
 * Local wake-ups: a worker process that schedules a delayed pass also promotes that job itself
 * when it falls due, since the queue's own delayed-job timer can land tens of milliseconds late
 * (Redis wakes blocked clients on its `hz` cron: every 100 ms with the default hz 10). The delayed
 * job stays the durable copy: if this process dies or misses the timer, BullMQ runs it as before.
 */
export class LocalWakes {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Promotes delayed job `jobId` of `queue` after `delay` ms. */
  schedule(queue: Queue, jobId: string, delay: number): void {
    if (delay > LOCAL_WAKE_HORIZON_MS || this.timers.has(jobId)) return;
    if (this.timers.size >= LOCAL_WAKE_MAX) return;
    const timer = setTimeout(() => {
      this.timers.delete(jobId);
      void promote(queue, jobId);
    }, delay);
    timer.unref();
    this.timers.set(jobId, timer);
  }

  /** Cancels every pending local wake (the delayed jobs stay). */
  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

async function promote(queue: Queue, jobId: string): Promise<void> {
  try {
    const job = await queue.getJob(jobId);
    // Throws when the job is no longer delayed (the queue promoted it first): nothing to do.
    if (job) await job.promote();
  } catch {
    // The delayed job stays scheduled; the queue runs it at its own timer.
  }
}

/**
 * Adds an immediate pass for each recovered run. Sweeps of all processes collapse onto one job per
 * run and `RESWEEP_MS` window: a run that stays overdue gets a fresh job id in the next window,
 * since the previous job may be held `active` by a worker that died before running it (BullMQ only
 * notices that after its lock duration and stalled interval, 30 to 60 s), and adding a job under a
 * held id is a no-op. An overdue idle run whose wake-up (or last sweep) job still waits in the
 * queue is not lost, only queued behind a backlog (a large fan-out): it gets no duplicate.
 */
export async function addRecovered(
  queue: Queue,
  items: { id: string; wake: Date; stale: boolean }[],
  now: number,
): Promise<void> {
  const jobs = items.map((it) => {
    const wakeMs = it.wake.getTime();
    const round = Math.max(0, Math.floor((now - wakeMs) / RESWEEP_MS));
    const tag = it.stale ? 'stale' : 'sweep';
    return {
      queued: it.stale
        ? []
        : [runJobId(it.id, wakeMs), runJobId(it.id, wakeMs, `${tag}${round - 1}-`)],
      job: {
        name: RUN_JOB,
        data: { workflowId: it.id } satisfies RunJobData,
        opts: { jobId: runJobId(it.id, wakeMs, `${tag}${round}-`) },
      },
    };
  });
  const waiting = await Promise.all(jobs.map((j) => anyWaiting(queue, j.queued)));
  const lost = jobs.filter((_, i) => !waiting[i]).map((j) => j.job);
  if (lost.length > 0) await queue.addBulk(lost);
}
