import { Injectable } from '@nestjs/common';
import { Branch, Workflow, WorkflowContext } from '../lib/index.js';
import { type BenchResult, type BenchRow, bootBench, fmt, scaled, sleep, sql } from './support.js';

interface FanInput {
  n: number;
}

function* range(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Records, per parent key, its passes and how long its spawnEach took. */
@Injectable()
export class FanRecorder {
  readonly passes = new Map<string, number>();
  readonly spawnMs = new Map<string, number>();
}

@Injectable()
export class FanWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly rec: FanRecorder,
  ) {}

  @Workflow('bench.fanParent')
  async parent(input: FanInput): Promise<string> {
    this.rec.passes.set(this.ctx.key, (this.rec.passes.get(this.ctx.key) ?? 0) + 1);
    await this.fan(input);
    await this.ctx.merge('fan', { minInterval: '250ms', maxInterval: '2s' });
    return 'merged';
  }

  @Branch()
  async fan(input: FanInput): Promise<void> {
    const t0 = performance.now();
    await this.ctx.spawnEach('kid', range(input.n), () => ({ workflow: 'bench.fanChild' }), {
      of: 1000,
    });
    this.rec.spawnMs.set(this.ctx.key, performance.now() - t0);
  }

  @Workflow('bench.fanChild')
  async child(): Promise<number> {
    return 1;
  }
}

/** spawnEach of 10k and 100k children: spawn rate, peak RSS, parent passes per merge. */
export async function spawnBench(): Promise<BenchResult> {
  const sizes = [scaled(10_000, 500), scaled(100_000, 5_000)];
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const n of sizes) {
    const bench = await bootBench({
      prefix: 'spawn',
      providers: [FanRecorder, FanWorkflows],
      concurrency: 32,
      poolSize: 20,
    });
    const rec = bench.app.get(FanRecorder);
    try {
      const key = `fan-${n}`;
      let peak = process.memoryUsage().rss;
      const base = peak;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
      const t0 = performance.now();
      const handle = await bench.client.start('bench.fanParent', { key, input: { n } });
      const deadline = Date.now() + 300_000;
      while (!rec.spawnMs.has(key) && Date.now() < deadline) await sleep(20);
      const spawnMs = rec.spawnMs.get(key) ?? Number.NaN;
      const spawnPeak = peak;
      const result = await handle
        .result({ timeout: Math.max(1_000, deadline - Date.now()) })
        .catch((e: Error) => e);
      clearInterval(sampler);
      const totalMs = performance.now() - t0;
      const [{ children, completed }] = await sql<{ children: number; completed: number }>(
        `SELECT count(*)::int AS children, count(*) FILTER (WHERE state = 'completed')::int AS completed
         FROM "${bench.schema}".chrono_forge_workflows WHERE key LIKE $1`,
        [`${key}$fan$kid_%`],
      );
      const passes = rec.passes.get(key) ?? 0;
      const rate = n / (spawnMs / 1000);
      rows.push({
        name: `spawnEach ${n} children (of 1000, worker concurrency 32)`,
        measured: `${fmt(rate, 0)} children/s spawned; peak RSS +${fmt((spawnPeak - base) / 2 ** 20, 0)} MiB during spawn`,
        baseline: `${n} children`,
        ratio: '',
        goal: '≥ 10 000 children/s, RSS flat in N, passes constant',
        met: rate >= 10_000 ? 'yes' : 'no',
        statements: `${passes} parent passes`,
        roundTrips: `${Math.ceil(n / 1000) + 1} dispatch statements`,
      });
      notes.push(
        `spawn ${n}: spawnEach ${fmt(spawnMs, 0)} ms (${fmt(rate, 0)} children/s), children inserted ${children} ` +
          `(completed ${completed}); run ${result instanceof Error ? `not finished: ${result.message}` : `"${String(result)}"`} ` +
          `after ${fmt(totalMs / 1000, 1)} s with ${passes} parent passes; RSS at start ${fmt(base / 2 ** 20, 0)} MiB, ` +
          `peak during spawn ${fmt(spawnPeak / 2 ** 20, 0)} MiB, peak overall ${fmt(peak / 2 ** 20, 0)} MiB (same process runs the children).`,
      );
    } finally {
      await bench.close();
    }
  }
  return { rows, notes };
}
