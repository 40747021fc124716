import {
  type BenchResult,
  bootBench,
  engineCounts,
  fmt,
  median,
  now,
  percentile,
  scaled,
  sleep,
} from './support.js';
import { guard } from './summary.js';
import { ThreeStepWorkflow, Work } from './throughput.bench.js';

const ROUNDS = 2;

/** One configuration: lone three-step runs, each started after the previous one completed. */
async function lone(work: Work, startInPlace: boolean, n: number) {
  const bench = await bootBench({
    prefix: startInPlace ? 'slip' : 'slq',
    providers: [{ provide: Work, useValue: work }, ThreeStepWorkflow],
    concurrency: 16,
    startInPlace,
  });
  try {
    const ms: number[] = [];
    const warm = 20;
    const before = { snap: bench.counter.snapshot() };
    for (let i = 0; i < warm + n; i++) {
      if (i === warm) before.snap = bench.counter.snapshot();
      const t0 = now();
      await bench.client.start('bench.three', { key: `k${i}` });
      await bench.completions.waitFor(i + 1, 10_000);
      if (i >= warm) ms.push(now() - t0);
      await sleep(5); // a lone start: nothing else in flight
    }
    return { ms, statements: engineCounts(bench.counter.since(before.snap)).statements / n };
  } finally {
    await bench.close();
  }
}

/**
 * Start latency (issue 22, `worker.startInPlace`): a lone three-step workflow, `client.start()` →
 * its completion, through the queue vs run in place, alternating rounds.
 */
export async function startLatencyBench(): Promise<BenchResult> {
  const n = scaled(200, 20);
  const work = new Work();
  try {
    await work.create('bench_sl');
    const queued: number[] = [];
    const inPlace: number[] = [];
    let statements = { queued: 0, inPlace: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const q = await lone(work, false, Math.round(n / ROUNDS));
      const p = await lone(work, true, Math.round(n / ROUNDS));
      queued.push(...q.ms);
      inPlace.push(...p.ms);
      statements = { queued: q.statements, inPlace: p.statements };
    }
    const ratio = median(inPlace) / median(queued);
    return {
      rows: [
        {
          name: 'start latency: a lone three-step workflow, start() → completed, worker.startInPlace vs the queue, c=16',
          measured: `p50 ${fmt(median(inPlace))} / p99 ${fmt(percentile(inPlace, 99))} ms in place`,
          baseline: `p50 ${fmt(median(queued))} / p99 ${fmt(percentile(queued, 99))} ms queued`,
          ratio: `${fmt(ratio)}×`,
          goal: 'reported (in place vs queue)',
          met: 'n/a',
          statements: `${fmt(statements.inPlace / 3)} (${fmt(statements.inPlace)}/wf)`,
          roundTrips: `queued: ${fmt(statements.queued)}/wf`,
          // Gross: in place twice as slow as through the queue.
          guards: [guard(ratio, 2, 'lower', 'in place / queued p50')],
        },
      ],
      notes: [
        `start latency: ${ROUNDS} alternating rounds of ${Math.round(n / ROUNDS)} runs per side after 20 ` +
          `warm-up runs, one run at a time (5 ms apart); time = start() called → the run's completion ` +
          `statement returned. In place the pass runs in the starting process with no queue job; ` +
          `queued, the start enqueues a BullMQ job the same process's worker picks.`,
      ],
    };
  } finally {
    await work.drop();
  }
}
