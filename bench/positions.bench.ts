import { Injectable } from '@nestjs/common';
import { Workflow, WorkflowContext } from '../lib/index.js';
import { CallHistory } from '../lib/run/call-history.js';
import { historyWriteCost } from './history-write.js';
import type { StatementEvent } from './pg-counter.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  fmt,
  median,
  now,
  sleep,
  sql,
} from './support.js';

const STEPS = 2000;
const SLEEP_MS = 1500;
/** Runs per side; checked and unchecked runs alternate, each side first in turn. */
const REPS = 6;

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
    await this.ctx.step('tail', () => 0); // the resumed pass adds one call to the history
    return input.steps;
  }
}

/** Time spent in the position check of each pass (`CallHistory.enter`, `toRecord`). */
interface PassCost {
  enterMs: number;
  calls: number;
  toRecordMs: number;
}

/**
 * Wraps `CallHistory.enter` and `toRecord` with timers (upper bounds: each timer adds its own
 * `performance.now()` pair) until the returned function removes them; a pass's costs are pushed
 * to `passes` when it records its history.
 */
function attribute(passes: PassCost[]): () => void {
  const proto = CallHistory.prototype;
  const { enter, toRecord } = proto;
  const costs = new WeakMap<CallHistory, PassCost>();
  const cost = (h: CallHistory) => {
    let c = costs.get(h);
    if (!c) costs.set(h, (c = { enterMs: 0, calls: 0, toRecordMs: 0 }));
    return c;
  };
  proto.enter = function timedEnter(this: CallHistory, ...args: Parameters<typeof enter>) {
    const t0 = now();
    const out = enter.apply(this, args);
    const c = cost(this);
    c.enterMs += now() - t0;
    c.calls++;
    return out;
  };
  proto.toRecord = function timedToRecord(this: CallHistory, ...args: Parameters<typeof toRecord>) {
    const t0 = now();
    const out = toRecord.apply(this, args);
    const c = cost(this);
    c.toRecordMs += now() - t0;
    passes.push(c);
    return out;
  };
  return () => Object.assign(proto, { enter, toRecord });
}

/**
 * The position check's cost: CPU per replayed step in the pass that resumes a run after 2 000
 * completed steps, with its history checked (baseline: the same pass with the run's history
 * removed during the sleep, so no call is checked, as for runs recorded before histories
 * existed); the check's own time per executed and per replayed step (attributed with timers);
 * and the pass-ending statement with and without a history to write.
 */
export async function positionsBench(): Promise<BenchResult> {
  const bench = await bootBench({
    prefix: 'positions',
    providers: [PositionsProbe, PositionsWorkflow],
    concurrency: 1,
  });
  try {
    const probe = bench.app.get(PositionsProbe);
    const ends = new Map<string, StatementEvent[]>();
    bench.counter.on((e) => {
      if (e.runId !== undefined && (e.label === 'complete' || e.label === 'release'))
        ends.set(e.runId, [...(ends.get(e.runId) ?? []), e]);
    });
    const runOnce = async (key: string, checked: boolean) => {
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
      const [pass1, pass2] = probe.loops.get(key) ?? [];
      const [, end2] = ends.get(handle.id) ?? [];
      return {
        executed: (pass1 / STEPS) * 1000,
        replayed: (pass2 / STEPS) * 1000,
        endMs: end2 ? end2.end - end2.start : NaN,
      };
    };
    await runOnce('warm', true);
    await runOnce('warm-u', false);
    const checked: Array<Awaited<ReturnType<typeof runOnce>>> = [];
    const unchecked: typeof checked = [];
    for (let r = 0; r < REPS; r++) {
      const order = r % 2 === 0 ? [true, false] : [false, true];
      for (const c of order)
        (c ? checked : unchecked).push(await runOnce(`${c ? 'c' : 'u'}${r}`, c));
    }
    const passes: PassCost[] = [];
    const restore = attribute(passes);
    const attributed = [await runOnce('a0', true), await runOnce('a1', true)];
    await runOnce('b0', false);
    await runOnce('b1', false);
    restore();
    // Passes in order: a0 pass 1, a0 pass 2, a1 pass 1, a1 pass 2.
    const perCall = (p: PassCost | undefined) =>
      p ? ((p.enterMs + p.toRecordMs) / p.calls) * 1000 : NaN;
    const executedCheck = median([perCall(passes[0]), perCall(passes[2])]);
    const replayedCheck = median([perCall(passes[1]), perCall(passes[3])]);
    // Passes 5-8: b0, b1 (history dropped): the same timed calls with nothing to check.
    const replayedFree = median([perCall(passes[5]), perCall(passes[7])]);
    const extra = replayedCheck - replayedFree;
    const executed = median(attributed.map((a) => a.executed));
    const c = median(checked.map((x) => x.replayed));
    const u = median(unchecked.map((x) => x.replayed));
    const cMin = Math.min(...checked.map((x) => x.replayed));
    const uMin = Math.min(...unchecked.map((x) => x.replayed));
    const attributedRatio = (uMin + extra) / uMin;
    const endC = median(checked.map((x) => x.endMs));
    const endU = median(unchecked.map((x) => x.endMs));
    const stepRatio = executed / (executed - executedCheck);
    const writes = [
      await historyWriteCost(bench.schema, STEPS + 1),
      await historyWriteCost(bench.schema, 20_001),
    ];
    return {
      rows: [
        {
          name: 'positions: executed step, position check attributed',
          measured: `${fmt(executed, 1)} µs/step incl. ${fmt(executedCheck, 3)} µs check`,
          baseline: `${fmt(executed - executedCheck, 1)} µs/step without the check`,
          ratio: `${fmt(stepRatio, 4)}×`,
          goal: 'no extra statement per step; per-step ratio ≤ 1.05×',
          met: stepRatio <= 1.05 ? 'yes' : 'no',
          statements: '0 per step (history written with the pass end)',
          roundTrips: '0 per step',
        },
        ...writes.map((w) => ({
          name: `positions: history write of a pass adding 1 call to ${w.entries} (the statement's history part alone)`,
          measured: `${fmt(w.appendMs, 3)} ms appended (min ${fmt(w.appendMinMs, 3)})`,
          baseline: `${fmt(w.rewriteMs, 3)} ms rewritten (min ${fmt(w.rewriteMinMs, 3)})`,
          ratio: `${fmt(w.appendMs / w.rewriteMs, 3)}×`,
          goal: 'no history rewrite per pass',
          met: (w.appendMs < w.rewriteMs ? 'yes' : 'no') as BenchRow['met'],
          statements: '0 extra (part of the pass end)',
          roundTrips: '0 extra',
        })),
        {
          name: "positions: replayed step with its position checked (ratio attributed: the check's extra time over the fastest unchecked replayed step)",
          measured: `${fmt(uMin + extra, 2)} µs/replayed step (check adds ${fmt(extra, 3)} µs; side by side: median ${fmt(c, 2)}, min ${fmt(cMin, 2)})`,
          baseline: `${fmt(uMin, 2)} µs/replayed step unchecked (median ${fmt(u, 2)})`,
          ratio: `${fmt(attributedRatio, 3)}× (side by side: median ${fmt(c / u, 3)}×, min ${fmt(cMin / uMin, 3)}×)`,
          goal: '≤ 1.05× in CPU per replayed step',
          met: attributedRatio <= 1.05 ? 'yes' : 'no',
          statements: '0 per step (history read with the lock)',
          roundTrips: '0 per step',
        },
      ],
      notes: [
        `positions: ${REPS} resumed passes of ${STEPS} replayed steps per side, alternating; checked ${checked.map((v) => fmt(v.replayed, 2)).join(' / ')} µs, ` +
          `unchecked ${unchecked.map((v) => fmt(v.replayed, 2)).join(' / ')} µs per replayed step. The check itself (CallHistory.enter + toRecord, timed in 2 more runs): ` +
          `${fmt(executedCheck, 3)} µs per executed and ${fmt(replayedCheck, 3)} µs per replayed call (${fmt(replayedFree, 3)} µs per replayed call with nothing to check, 2 more runs without a history: the timers' own cost and the bookkeeping both sides share); the rest of the difference between the sides is not in the check (scheduling noise of a loaded machine: compare the minima).`,
        `positions: pass-ending statement of the resumed pass (median): ${fmt(endC, 2)} ms appending its one new entry to the ${STEPS + 1} stored, ` +
          `${fmt(endU, 2)} ms writing the whole ${STEPS + 2}-entry history (the unchecked side, whose history was dropped; before appends, every pass that added a call rewrote it so).`,
      ],
    };
  } finally {
    await bench.close();
  }
}
