import { IsInt, Min } from 'class-validator';
import { WorkflowQueue } from '../lib/index.js';
import { BranchStore } from '../lib/branches/branch.store.js';
import { validateInput } from '../lib/definitions/input-validation.js';
import { WorkflowStore } from '../lib/persistence/workflow.store.js';
import { bootBench, fmt, median, now } from './support.js';

/** A child input DTO, to time class-validator per batch. */
class KidInput {
  @IsInt() @Min(0) i: number;
}

const BATCH = 1000;

/**
 * The pieces of one 1000-child batch, on a fresh schema with no worker, over 30 batches (so the
 * last ones run with 29 000 children of the same branch in the table).
 */
export async function spawnPieces(): Promise<string[]> {
  const bench = await bootBench({ prefix: 'spawnp', providers: [], concurrency: 1 });
  try {
    await bench.app.get(WorkflowQueue).stopWorker();
    const store = bench.app.get(WorkflowStore);
    const branches = bench.app.get(BranchStore);
    const jobs = bench.app.get(WorkflowQueue);
    const parent = await store.insertRun('bench.none', 'pieces', null, 60_000);
    const owner = 'pieces/1';
    const acquired = await store.acquire(parent.id, owner, Date.now());
    if (acquired.kind !== 'acquired') throw new Error(`spawn pieces: parent ${acquired.kind}`);
    const logId = await store.savePendingLog(parent.id, owner, 'branch$fan', 1, { cursors: {} });
    const times = new Map<string, number[]>();
    const time = async (label: string, fn: () => Promise<unknown>) => {
      const t0 = now();
      await fn();
      times.set(label, [...(times.get(label) ?? []), now() - t0]);
    };
    const batches = 30;
    for (let b = 0; b < batches; b++) {
      await time('validate 1000 inputs (class-validator DTO, one by one)', async () => {
        for (let i = 0; i < BATCH; i++) await validateInput('kid', KidInput, { i });
      });
      const bare = Array.from({ length: BATCH }, (_, i) => `bare$${b}_${i}`);
      await time('bare INSERT of 1000 rows (unnest; no FK, no ON CONFLICT, no RETURNING)', () =>
        store.query(
          `INSERT INTO ${store.wf} (key, job_name, input, max_duration_ms, next_run_at)
           SELECT c.key, 'bench.bare', 'null'::jsonb, 60000, now() FROM unnest($1::text[]) AS c(key)`,
          [bare],
        ),
      );
      const kids = Array.from({ length: BATCH }, (_, i) => ({
        key: `pieces$fan$kid_${b * BATCH + i}`,
        workflow: 'bench.fanChild',
        input: null,
        maxDurationMs: 60_000,
      }));
      let toEnqueue: { id: string; next_run_at: Date }[] | null = null;
      await time(
        'dispatch statement (INSERT … ON CONFLICT + cursor, 1000 new children)',
        async () => {
          toEnqueue =
            (
              await branches.dispatch(parent.id, owner, logId, kids, 'kid', {
                n: (b + 1) * BATCH,
              })
            )?.toEnqueue ?? null;
        },
      );
      if (toEnqueue === null || (toEnqueue as unknown[]).length !== BATCH)
        throw new Error('spawn pieces: dispatch did not return the batch');
      await time('addBulk of 1000 run jobs (WorkflowQueue.enqueueChildren)', () =>
        jobs.enqueueChildren(toEnqueue!),
      );
      if (b % 5 === 4)
        await time('dispatch of a batch that exists (crash retry: 1000 never-started)', () =>
          branches.dispatch(parent.id, owner, logId, kids, 'kid', { n: (b + 1) * BATCH }),
        );
    }
    const lines = [...times].map(([label, v]) => {
      const head = v.slice(0, Math.ceil(v.length / 6));
      const tail = v.slice(-Math.ceil(v.length / 6));
      return `${label}: median ${fmt(median(v), 1)} ms (first batches ${fmt(median(head), 1)}, last ${fmt(median(tail), 1)})`;
    });
    const m = (label: string) => median(times.get(label) ?? []);
    const dispatchMs = m('dispatch statement (INSERT … ON CONFLICT + cursor, 1000 new children)');
    const addBulkMs = m('addBulk of 1000 run jobs (WorkflowQueue.enqueueChildren)');
    return [
      `spawn pieces per 1000-child batch (${batches} batches of one branch, no worker): ${lines.join('; ')}.`,
      `spawn ceilings on this machine: dispatch then addBulk one after the other ${fmt(1000 / ((dispatchMs + addBulkMs) / 1000), 0)} children/s; ` +
        `overlapped (spawnEach enqueues a batch while it inserts the next) at most ${fmt(1000 / (Math.max(dispatchMs, addBulkMs) / 1000), 0)} children/s.`,
    ];
  } finally {
    await bench.close();
  }
}
