import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { WorkflowQueue } from '../lib/index.js';
import { FanRecorder, FanWorkflows } from './spawn.bench.js';
import { bootBench, sleep } from './support.js';

/** What one fresh spawning process measured (printed as `memory <json>`). */
export interface SpawnMemory {
  n: number;
  spawnMs: number;
  /** RSS once the app is up and the parent's pass waits at the gate, after a full GC. */
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

declare const gc: () => void;

/**
 * One spawnEach of BENCH_N children in a fresh process, so each size starts from the same heap
 * (a process that already ran a spawn has grown its heap and returns little of it to the OS).
 * Only the spawn is measured: the children are not run, the schema is dropped afterwards.
 * Needs `--expose-gc`.
 */
async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const n = Number(process.env.BENCH_N);
  if (!Number.isInteger(n) || n < 1) throw new Error('BENCH_N must be a positive integer');
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
    gc();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeapTotal = base.heapTotal;
    let peakFirstTenth = base.rss;
    let batches = 0;
    const tenth = Math.max(1, Math.ceil(n / 1000 / 10));
    const unsubscribe = bench.counter.on((e) => {
      if (/^\s*WITH ok AS/.test(e.text)) batches++;
    });
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeapTotal = Math.max(peakHeapTotal, m.heapTotal);
      if (batches <= tenth) peakFirstTenth = Math.max(peakFirstTenth, m.rss);
    }, 10);
    open();
    while (!rec.spawnMs.has(key)) await sleep(5);
    clearInterval(sampler);
    unsubscribe();
    gc();
    const result: SpawnMemory = {
      n,
      spawnMs: rec.spawnMs.get(key) ?? Number.NaN,
      baseRss: base.rss,
      peakRss,
      peakFirstTenth,
      peakHeapTotal,
      baseHeapTotal: base.heapTotal,
      liveAfterGc: process.memoryUsage().heapUsed,
      maxOldSpaceMiB:
        Number(/--max-old-space-size=(\d+)/.exec(process.execArgv.join(' '))?.[1]) || null,
    };
    await bench.app.get(WorkflowQueue).stopWorker();
    process.stdout.write(`memory ${JSON.stringify(result)}\n`);
  } finally {
    await bench.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
