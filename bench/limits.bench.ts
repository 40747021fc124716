import { Injectable } from '@nestjs/common';
import { DurableStep, Workflow } from '../lib/index.js';
import {
  type BenchResult,
  bootBench,
  breakdown,
  engineCounts,
  fmt,
  median,
  now,
  percentile,
  scaled,
} from './support.js';

const STEPS = 200;
const REPS = 9;

/** Body timings of the hand-off runs: when each limited body started and ended. */
@Injectable()
export class HandOffProbe {
  readonly bodies: Array<{ start: number; end: number }> = [];
}

@Injectable()
export class LimitBenchSteps {
  constructor(private readonly probe: HandOffProbe) {}

  @DurableStep()
  async plain(i: number): Promise<number> {
    return i;
  }

  /** Never refused (1 000 000 slots): the cost of asking. */
  @DurableStep({ limit: 'wide' })
  async limited(i: number): Promise<number> {
    return i;
  }

  /** One at a time: each release hands the slot to a parked run. */
  @DurableStep({ limit: 'single' })
  async handOff(): Promise<void> {
    const start = now();
    await new Promise((r) => setTimeout(r, 5));
    this.probe.bodies.push({ start, end: now() });
  }
}

@Injectable()
export class LimitBenchWorkflows {
  constructor(private readonly steps: LimitBenchSteps) {}

  @Workflow('bench.limits.steps')
  async many(input: { steps: number; limited: boolean }): Promise<number> {
    let sum = 0;
    for (let i = 0; i < input.steps; i++)
      sum += await (input.limited ? this.steps.limited(i) : this.steps.plain(i));
    return sum;
  }

  @Workflow('bench.limits.handOff')
  async handOff(): Promise<void> {
    await this.steps.handOff();
  }
}

/**
 * Limits: the overhead of a limited step (a limit that never refuses) against the same step
 * without one, and the hand-off latency from a holder's body ending to the next waiting run's body
 * starting on a concurrency-1 limit (release in the step's completion statement, `pg_notify`,
 * wake listener, job, replay, acquire).
 */
export async function limitsBench(): Promise<BenchResult> {
  const bench = await bootBench({
    prefix: 'limits',
    providers: [HandOffProbe, LimitBenchSteps, LimitBenchWorkflows],
    concurrency: 8,
    limits: { wide: { concurrency: 1_000_000 }, single: { concurrency: 1 } },
  });
  try {
    const runOnce = async (key: string, limited: boolean) => {
      const before = bench.counter.snapshot();
      const t0 = now();
      const handle = await bench.client.start('bench.limits.steps', {
        key,
        input: { steps: STEPS, limited },
      });
      const end = await bench.completions.waitRun(handle.id, 120_000);
      return { ms: (end - t0) / STEPS, diff: bench.counter.since(before) };
    };
    await runOnce('warm-plain', false);
    await runOnce('warm-limited', true);
    const plain: Array<Awaited<ReturnType<typeof runOnce>>> = [];
    const limited: typeof plain = [];
    for (let r = 0; r < REPS; r++) {
      plain.push(await runOnce(`plain-${r}`, false));
      limited.push(await runOnce(`limited-${r}`, true));
    }
    const plainMs = median(plain.map((p) => p.ms));
    const limitedMs = median(limited.map((p) => p.ms));
    const plainCounts = engineCounts(plain[plain.length - 1].diff);
    const limitedCounts = engineCounts(limited[limited.length - 1].diff);
    const extraTrips = (limitedCounts.roundTrips - plainCounts.roundTrips) / STEPS;

    const runs = scaled(200, 20);
    const probe = bench.app.get(HandOffProbe);
    const handles = await Promise.all(
      Array.from({ length: runs }, (_, i) =>
        bench.client.start('bench.limits.handOff', { key: `h${i}` }),
      ),
    );
    await Promise.all(handles.map((h) => h.result({ timeout: '5m' })));
    const bodies = [...probe.bodies].sort((a, b) => a.start - b.start);
    const gaps = bodies.slice(1).map((b, i) => b.start - bodies[i].end);
    const p50 = percentile(gaps, 50);
    const p99 = percentile(gaps, 99);
    const overlaps = gaps.filter((g) => g < 0).length;
    return {
      rows: [
        {
          name: `limited step overhead (${STEPS} no-op steps, a limit that never refuses)`,
          measured: `${fmt(limitedMs, 3)} ms/step`,
          baseline: `${fmt(plainMs, 3)} ms/step unlimited`,
          ratio: `${fmt(limitedMs / plainMs)}×`,
          goal: '≤ 1 extra round trip',
          met: extraTrips <= 1.001 ? 'yes' : 'no',
          statements: fmt(limitedCounts.statements / STEPS, 3),
          roundTrips: fmt(limitedCounts.roundTrips / STEPS, 3),
        },
        {
          name: `limit hand-off, slot freed → next waiting step starts (${runs} runs, concurrency 1)`,
          measured: `p50 ${fmt(p50, 1)} ms, p99 ${fmt(p99, 1)} ms`,
          baseline: '',
          ratio: '',
          goal: 'p50 ≤ 10 ms, p99 ≤ 50 ms',
          met: p50 <= 10 && p99 <= 50 ? 'yes' : 'no',
          statements: '',
          roundTrips: '',
        },
      ],
      notes: [
        `limits: ${REPS} runs of each kind, alternately, after a warm-up; ms/step = start() → ` +
          `complete / ${STEPS}. Limited run statements: ${breakdown(limited[limited.length - 1].diff)}; ` +
          `unlimited: ${breakdown(plain[plain.length - 1].diff)}. Extra round trips per step: ` +
          `${fmt(extraTrips, 3)} (the acquire; the release is a trigger inside completeStep).`,
        `limits hand-off: gap = next body's start − previous body's end (both in the worker ` +
          `process, a 5 ms body), ${gaps.length} gaps; it includes the previous step's ` +
          `completeStep statement (which frees the slot and notifies). Overlapping bodies ` +
          `(a negative gap: the limit exceeded): ${overlaps}.`,
      ],
    };
  } finally {
    await bench.close();
  }
}
