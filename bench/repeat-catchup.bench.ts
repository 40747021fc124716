import { Injectable } from '@nestjs/common';
import { Repeat, TestClock, Workflow, WorkflowContext } from '../lib/index.js';
import type { StatementEvent } from './pg-counter.js';
import { type BenchResult, bootBench, fmt, median, sql } from './support.js';
import { guard } from './summary.js';

/** The frozen engine time of the benchmark. */
const FF_NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const MISSED = 1_000_000;
/** 10⁶ one-minute ticks before the first tick inside the 30 s window (FF_NOW − 10 s). */
const FF_START = new Date(FF_NOW - MISSED * 60_000 - 10_000);
const REPS = 5;

interface TickInput {
  key: string;
}

@Injectable()
export class CatchUpTicks {
  readonly ticks = new Map<string, number>();

  done(input: TickInput): boolean {
    return (this.ticks.get(input.key) ?? 0) >= 1;
  }

  @Repeat('1m', { till: 'done', timeout: '30s', startAt: FF_START })
  async missed(input: TickInput, _scheduledAt = new Date()): Promise<void> {
    this.ticks.set(input.key, (this.ticks.get(input.key) ?? 0) + 1);
  }

  /** Same grid, started inside the window: the same pass without any missed tick. */
  @Repeat('1m', { till: 'done', timeout: '30s', startAt: new Date(FF_NOW - 10_000) })
  async onTime(input: TickInput, _scheduledAt = new Date()): Promise<void> {
    this.ticks.set(input.key, (this.ticks.get(input.key) ?? 0) + 1);
  }
}

@Injectable()
export class CatchUpWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly ticks: CatchUpTicks,
  ) {}

  @Workflow('bench.catchUp')
  async catchUp(): Promise<string> {
    await this.ticks.missed({ key: this.ctx.key });
    return 'caught up';
  }

  @Workflow('bench.onTime')
  async onTime(): Promise<string> {
    await this.ticks.onTime({ key: this.ctx.key });
    return 'on time';
  }
}

interface Pass {
  passMs: number;
  ffWriteMs: number | undefined;
  statements: string[];
  rows: number;
  summaries: number;
  fastForwarded: number;
}

/** Repeat catch-up over 10⁶ missed ticks on a frozen TestClock: one O(1) fast-forward pass. */
export async function repeatCatchUpBench(): Promise<BenchResult> {
  const clock = new TestClock();
  clock.set(FF_NOW, true);
  const bench = await bootBench({
    prefix: 'repeat',
    providers: [CatchUpTicks, CatchUpWorkflows],
    concurrency: 1,
    clock,
  });
  try {
    const events = new Map<string, StatementEvent[]>();
    bench.counter.on((e) => {
      if (e.runId !== undefined) events.set(e.runId, [...(events.get(e.runId) ?? []), e]);
    });
    const runOnce = async (workflow: string, key: string): Promise<Pass> => {
      const handle = await bench.client.start(workflow, { key });
      await bench.completions.waitRun(handle.id, 30_000);
      const pass = events.get(handle.id) ?? [];
      const first = pass.findIndex((e) => e.label === 'acquire');
      const ff = pass.find((e) => e.label === 'recordTick' && e.values[9] === 'TimeoutError');
      const [row] = await sql<{ rows: string; summaries: string; ff: string | null }>(
        `SELECT count(*) AS rows, count(*) FILTER (WHERE error_class = 'TimeoutError') AS summaries,
           max((metadata->>'fast_forwarded')::bigint) AS ff
         FROM "${bench.schema}".chrono_forge_execution_logs WHERE workflow_id = $1`,
        [handle.id],
      );
      return {
        passMs: pass[pass.length - 1].end - pass[first].start,
        ffWriteMs: ff ? ff.end - ff.start : undefined,
        statements: pass.slice(first).map((e) => e.label),
        rows: Number(row.rows),
        summaries: Number(row.summaries),
        fastForwarded: Number(row.ff ?? 0),
      };
    };
    await runOnce('bench.catchUp', 'warm-ff');
    await runOnce('bench.onTime', 'warm-base');
    const ff: Pass[] = [];
    const base: Pass[] = [];
    for (let r = 0; r < REPS; r++) {
      ff.push(await runOnce('bench.catchUp', `ff${r}`));
      base.push(await runOnce('bench.onTime', `base${r}`));
    }
    const ffMs = median(ff.map((p) => p.passMs));
    const baseMs = median(base.map((p) => p.passMs));
    const last = ff[ff.length - 1];
    const ok = ffMs < 50 && ff.every((p) => p.summaries === 1 && p.fastForwarded === MISSED);
    return {
      rows: [
        {
          name: `repeat catch-up over 10⁶ missed ticks (@Repeat('1m', { timeout: '30s' }))`,
          measured: `${fmt(ffMs, 1)} ms pass; ${last.summaries} summary row (${last.rows} rows)`,
          baseline: `${fmt(baseMs, 1)} ms (same pass, 0 missed)`,
          ratio: `${fmt(ffMs / baseMs)}×`,
          goal: '< 50 ms, 1 summary row',
          met: ok ? 'yes' : 'no',
          statements: `${last.statements.length} in the pass`,
          roundTrips: `${last.statements.length} in the pass`,
          guards: [
            guard(Math.max(...ff.map((p) => p.summaries)), 1, 'lower', 'summary rows'),
            guard(last.statements.length, 14, 'lower', 'statements in the pass'),
          ],
        },
      ],
      notes: [
        `repeat: median of ${REPS} passes after a warm-up (acquire sent → complete returned): ` +
          `fast-forward ${ff.map((p) => fmt(p.passMs, 1)).join(' / ')} ms, without missed ticks ` +
          `${base.map((p) => fmt(p.passMs, 1)).join(' / ')} ms. The summary write (one statement ` +
          `moving the coordination log and inserting the TimeoutError row with ` +
          `fast_forwarded = ${last.fastForwarded}) took ` +
          `${ff.map((p) => fmt(p.ffWriteMs ?? Number.NaN, 2)).join(' / ')} ms.`,
        `repeat: statements of the fast-forward pass: ${last.statements.join(' → ')}; rows in the ` +
          `run's log: ${last.rows} (coordination, summary, the tick inside the window, completion).`,
      ],
    };
  } finally {
    await bench.close();
  }
}
