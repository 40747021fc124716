import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { WorkflowQueue } from '../lib/index.js';
import { FanRecorder, FanWorkflows } from './spawn.bench.js';
import { bootBench, REDIS_URL, sleep, uniqueName } from './support.js';

/** What one fresh process measured (printed as `memory <json>`). */
export interface SpawnMemory {
  mode: MemoryMode;
  n: number;
  /** Time of the spawn (engine) or of the addBulk calls (raw). */
  spawnMs: number;
  /** RSS before the spawn, after a full GC. */
  baseRss: number;
  /** Highest RSS sampled (every 10 ms) during the spawn. */
  peakRss: number;
  /** Highest RSS during the first tenth of the batches. */
  peakFirstTenth: number;
  peakHeapTotal: number;
  baseHeapTotal: number;
  /** JS heap in use after a full GC once the spawn returned. */
  liveAfterGc: number;
  /** Old-space limit the process ran with (`--max-old-space-size`), or null for the default. */
  maxOldSpaceMiB: number | null;
}

/**
 * `engine`: one `spawnEach` of N children (batches of 1000). `raw`: the baseline, N run jobs
 * added with plain BullMQ `addBulk` calls of 1000 (what the engine enqueues per batch, without
 * PostgreSQL, Nest or the engine).
 */
export type MemoryMode = 'engine' | 'raw';

declare const gc: () => void;

const BATCH = 1000;

/** Samples RSS and heap every 10 ms while `work` runs; `batchesDone` tells the batch count. */
async function measure(
  mode: MemoryMode,
  n: number,
  batchesDone: () => number,
  work: () => Promise<void>,
): Promise<SpawnMemory> {
  gc();
  const base = process.memoryUsage();
  const tenth = Math.max(1, Math.ceil(n / BATCH / 10));
  const peak = { rss: base.rss, heapTotal: base.heapTotal, firstTenth: base.rss };
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    if (batchesDone() <= tenth) peak.firstTenth = Math.max(peak.firstTenth, m.rss);
  }, 10);
  const t0 = performance.now();
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  const spawnMs = performance.now() - t0;
  gc();
  return {
    mode,
    n,
    spawnMs,
    baseRss: base.rss,
    peakRss: peak.rss,
    peakFirstTenth: peak.firstTenth,
    peakHeapTotal: peak.heapTotal,
    baseHeapTotal: base.heapTotal,
    liveAfterGc: process.memoryUsage().heapUsed,
    maxOldSpaceMiB:
      Number(/--max-old-space-size=(\d+)/.exec(process.execArgv.join(' '))?.[1]) || null,
  };
}

async function engine(n: number): Promise<SpawnMemory> {
  // Concurrency 1: the parent's spawning pass holds the only slot, so no child runs here.
  const bench = await bootBench({
    prefix: 'spawnm',
    providers: [FanRecorder, FanWorkflows],
    concurrency: 1,
  });
  try {
    const rec = bench.app.get(FanRecorder);
    let open!: () => void;
    rec.gate = new Promise<void>((resolve) => (open = resolve));
    const key = `fan-${n}`;
    await bench.client.start('bench.fanParent', { key, input: { n } });
    while (!rec.passes.has(key)) await sleep(5);
    let batches = 0;
    const unsubscribe = bench.counter.on((e) => {
      if (/^\s*WITH ok AS/.test(e.text)) batches++;
    });
    const result = await measure(
      'engine',
      n,
      () => batches,
      async () => {
        open();
        while (!rec.spawnMs.has(key)) await sleep(5);
      },
    );
    unsubscribe();
    result.spawnMs = rec.spawnMs.get(key) ?? Number.NaN;
    await bench.app.get(WorkflowQueue).stopWorker();
    return result;
  } finally {
    await bench.close();
  }
}

async function raw(n: number): Promise<SpawnMemory> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(uniqueName('bq_spawnraw'), {
    connection,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  try {
    await queue.waitUntilReady();
    let batches = 0;
    return await measure(
      'raw',
      n,
      () => batches,
      async () => {
        for (let from = 0; from < n; from += BATCH, batches++) {
          const ids = Array.from({ length: Math.min(BATCH, n - from) }, (_, i) => from + i + 1);
          await queue.addBulk(
            ids.map((id) => ({
              name: 'run',
              data: { workflowId: String(id) },
              opts: { jobId: `run-${id}-${Date.now()}` },
            })),
          );
        }
      },
    );
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    await connection.quit();
  }
}

/**
 * One spawn of BENCH_N children (BENCH_MODE `engine` or `raw`) in a fresh process, so each size
 * starts from the same heap (a process that already ran a spawn has grown its heap and returns
 * little of it to the OS). The children are not run; schema and queue are dropped afterwards.
 * Needs `--expose-gc`.
 */
async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const n = Number(process.env.BENCH_N);
  if (!Number.isInteger(n) || n < 1) throw new Error('BENCH_N must be a positive integer');
  const mode = process.env.BENCH_MODE ?? 'engine';
  if (mode !== 'engine' && mode !== 'raw') throw new Error('BENCH_MODE must be engine or raw');
  const result = mode === 'raw' ? await raw(n) : await engine(n);
  process.stdout.write(`memory ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
