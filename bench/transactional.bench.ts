import { Injectable } from '@nestjs/common';
import pg from 'pg';
import { DurableStep, Workflow, WorkflowContext } from '../lib/index.js';
import {
  type BenchResult,
  bootBench,
  DATABASE_URL,
  fmt,
  median,
  now,
  scaled,
  sleep,
} from './support.js';
import { guard } from './summary.js';

const STEPS = 200;
/** Steps of each kind run first, unmeasured: the JIT's steady state, as in a long-lived worker. */
const WARM_STEPS = 1500;
/** Measured runs of each kind (after the warm-up run). */
const REPS = 7;

/** Per run key: time of the steps loop inside the workflow method. */
@Injectable()
export class TxProbe {
  readonly loopMs = new Map<string, number>();
  table = '';
  pool: pg.Pool | undefined;
}

@Injectable()
export class TxSteps {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly probe: TxProbe,
  ) {}

  /** The business INSERT and the checkpoint commit together. */
  @DurableStep({ transactional: true })
  async inTx(i: number): Promise<number> {
    await this.ctx.manager.query(`INSERT INTO ${this.probe.table} (key, n) VALUES ($1, $2)`, [
      this.ctx.key,
      i,
    ]);
    return i;
  }

  /** The same INSERT in an ordinary (at-least-once) step, autocommitted on the app's own pool. */
  @DurableStep()
  async plain(i: number): Promise<number> {
    await this.probe.pool!.query(`INSERT INTO ${this.probe.table} (key, n) VALUES ($1, $2)`, [
      this.ctx.key,
      i,
    ]);
    return i;
  }
}

@Injectable()
export class TxWorkflow {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly steps: TxSteps,
    private readonly probe: TxProbe,
  ) {}

  @Workflow('bench.tx')
  async run(input: { transactional: boolean; steps: number }): Promise<number> {
    const t0 = now();
    for (let i = 0; i < input.steps; i++)
      await (input.transactional ? this.steps.inTx(i) : this.steps.plain(i));
    this.probe.loopMs.set(this.ctx.key, now() - t0);
    return input.steps;
  }
}

/** Transactional step vs ordinary step vs a raw BEGIN/INSERT/COMMIT, ms per step. */
export async function transactionalBench(): Promise<BenchResult> {
  const steps = scaled(STEPS, 20);
  const warmSteps = scaled(WARM_STEPS, 100);
  const bench = await bootBench({
    prefix: 'tx',
    providers: [TxProbe, TxSteps, TxWorkflow],
    concurrency: 1,
  });
  const probe = bench.app.get(TxProbe);
  probe.table = `"${bench.schema}".bench_business`;
  probe.pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE ${probe.table} (id serial PRIMARY KEY, key text NOT NULL, n int NOT NULL)`,
    );
    const runs = { tx: [] as number[], plain: [] as number[], raw: [] as number[] };
    // Statements and round trips of the engine's pool during the transactional runs (the body's
    // INSERT goes through it too, as ctx.manager).
    let txCounts = { statements: 0, roundTrips: 0, steps: 0 };
    const txLabels = new Map<string, number>();
    const engineRun = async (transactional: boolean, rep: number, n: number) => {
      const key = `${transactional ? 'tx' : 'plain'}-${rep}`;
      const before = bench.counter.snapshot();
      const h = await bench.client.start('bench.tx', { key, input: { transactional, steps: n } });
      await h.result({ timeout: '120s' });
      if (transactional && rep > 0) {
        const diff = bench.counter.since(before);
        txCounts = {
          statements: txCounts.statements + diff.statements,
          roundTrips: txCounts.roundTrips + diff.roundTrips,
          steps: txCounts.steps + steps,
        };
        for (const [label, { count }] of diff.byLabel)
          txLabels.set(label, (txLabels.get(label) ?? 0) + count);
      }
      return probe.loopMs.get(key)! / n;
    };
    const rawRun = async (tag: string, n: number) => {
      const t0 = now();
      for (let i = 0; i < n; i++) {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${probe.table} (key, n) VALUES ($1, $2)`, [tag, i]);
        await client.query('COMMIT');
      }
      return (now() - t0) / n;
    };
    // Each transactional run sits between two raw runs, and its ratio is to their mean: a shared
    // machine's speed drifts over seconds (whole runs move by ±30 % here), which would otherwise
    // land on one side of the ratio.
    const ratios: number[] = [];
    for (let rep = 0; rep <= REPS; rep++) {
      const n = rep === 0 ? warmSteps : steps;
      const rawBefore = await rawRun(`raw-${rep}-a`, n);
      const txMs = await engineRun(true, rep, n);
      const rawAfter = await rawRun(`raw-${rep}-b`, n);
      const plainMs = await engineRun(false, rep, n);
      if (rep > 0) {
        runs.tx.push(txMs);
        runs.plain.push(plainMs);
        runs.raw.push(rawBefore, rawAfter);
        ratios.push(txMs / ((rawBefore + rawAfter) / 2));
      }
      await sleep(50);
    }
    const [tx, plain, raw] = [median(runs.tx), median(runs.plain), median(runs.raw)];
    const ratio = median(ratios);
    return {
      rows: [
        {
          name: `transactional step (INSERT + checkpoint in one transaction), ${steps} steps`,
          measured: `${fmt(tx, 3)} ms/step`,
          baseline: `raw BEGIN/INSERT/COMMIT ${fmt(raw, 3)} ms; ordinary step + autocommit INSERT ${fmt(plain, 3)} ms`,
          ratio: `${fmt(ratio)}× raw tx`,
          goal: '≤ 1.5× raw tx',
          met: ratio <= 1.5 ? 'yes' : 'no',
          statements: `${fmt(txCounts.statements / txCounts.steps)} (+ COMMIT, START TRANSACTION)`,
          roundTrips: `${fmt(txCounts.roundTrips / txCounts.steps)} (INSERT; checkpoint + COMMIT + the next step's START TRANSACTION in one query string; a START of its own for the first two steps of a run)`,
          // The goal is not met yet: 2× the recorded 3.32×.
          guards: [guard(ratio, 6.6, 'lower', 'ratio to raw tx')],
        },
      ],
      notes: [
        `transactional: engine pool per transactional step (${REPS} runs; includes the run's start, end and the result poll): ${[
          ...txLabels,
        ]
          .map(([label, n]) => `${label} ${fmt(n / txCounts.steps)}`)
          .join(', ')}.`,
        `transactional: ${REPS} rounds of ${steps} steps per kind after a warm-up round of ${warmSteps} steps per kind (the JIT's steady state, as in a long-lived worker; with 100 warm-up steps the first measured runs are ~15 % slower); a round is raw, transactional, raw, ordinary; the ratio is the median of each round's transactional run over the mean of the two raw runs beside it (per round: ${ratios.map((r) => fmt(r)).join(', ')}; the ratio of the medians is ${fmt(tx / raw)}×); ms/step tx ${runs.tx.map((v) => fmt(v, 3)).join(', ')}; ordinary ${runs.plain.map((v) => fmt(v, 3)).join(', ')}; raw ${runs.raw.map((v) => fmt(v, 3)).join(', ')}.`,
      ],
    };
  } finally {
    await client.end();
    await probe.pool?.end();
    await bench.close();
  }
}
