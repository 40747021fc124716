import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../lib/index.js';
import { type BenchResult, bootBench, fmt, median, now, sleep, sql } from './support.js';

const STEPS = 1000;
const SLEEP_MS = 1500;
const REPS = 3;

/** Time of the step loop of each pass, by run key. */
@Injectable()
export class PositionsProbe {
  readonly loops = new Map<string, number[]>();
}

@Injectable()
export class PositionsWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: PositionsProbe,
  ) {}

  @Workflow('bench.positions')
  async run(input: { steps: number; sleepMs: number }): Promise<number> {
    const t0 = now();
    for (let i = 0; i < input.steps; i++) await this.ctx.step('s', () => i);
    const key = this.ctx.key;
    this.probe.loops.set(key, [...(this.probe.loops.get(key) ?? []), now() - t0]);
    await this.ctx.sleep(input.sleepMs, 'nap');
    return input.steps;
  }
}

/**
 * The position check's cost per replayed step: the pass that resumes a run after 1 000 completed
 * steps, with its history checked (baseline: the same pass with the run's history removed during
 * the sleep, so no call is checked, as for runs recorded before histories existed).
 */
export async function positionsBench(): Promise<BenchResult> {
  const bench = await bootBench({
    prefix: 'positions',
    providers: [PositionsProbe, PositionsWorkflow],
    concurrency: 1,
  });
  try {
    const probe = bench.app.get(PositionsProbe);
    const runOnce = async (key: string, checked: boolean): Promise<number> => {
      const handle = await bench.client.start('bench.positions', {
        key,
        input: { steps: STEPS, sleepMs: SLEEP_MS },
      });
      if (!checked) {
        // Wait for the first pass to record the sleep, then drop the history before it ends.
        for (;;) {
          const [row] = await sql<{ history: unknown }>(
            `SELECT history FROM "${bench.schema}".chrono_forge_workflows WHERE id = $1`,
            [handle.id],
          );
          if (row?.history) break;
          await sleep(20);
        }
        await sql(
          `UPDATE "${bench.schema}".chrono_forge_workflows SET history = NULL WHERE id = $1`,
          [handle.id],
        );
      }
      await bench.completions.waitRun(handle.id, 120_000);
      const [, pass2] = probe.loops.get(key) ?? [];
      return (pass2 / STEPS) * 1000;
    };
    await runOnce('warm', true);
    const checked: number[] = [];
    const unchecked: number[] = [];
    for (let r = 0; r < REPS; r++) {
      checked.push(await runOnce(`c${r}`, true));
      unchecked.push(await runOnce(`u${r}`, false));
    }
    const c = median(checked);
    const u = median(unchecked);
    return {
      rows: [
        {
          name: `positions: replayed step with its position checked`,
          measured: `${fmt(c, 2)} µs/replayed step`,
          baseline: `${fmt(u, 2)} µs/replayed step unchecked`,
          ratio: `${fmt(c / u, 3)}×`,
          goal: 'no extra statement per step; ≤ 1.05× in CPU per replayed step',
          met: c / u <= 1.05 ? 'yes' : 'no',
          statements: '0 per step (history read with the lock, written with the pass end)',
          roundTrips: '0 per step',
        },
      ],
      notes: [
        `positions: median of ${REPS} resumed passes each, checked ${checked.map((v) => fmt(v, 2)).join(' / ')} µs, ` +
          `unchecked ${unchecked.map((v) => fmt(v, 2)).join(' / ')} µs per replayed step.`,
      ],
    };
  } finally {
    await bench.close();
  }
}
