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
const REPS = 5;

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
    for (let rep = 0; rep <= REPS; rep++) {
      const n = rep === 0 ? warmSteps : steps;
      for (const transactional of [true, false]) {
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
        if (rep > 0) (transactional ? runs.tx : runs.plain).push(probe.loopMs.get(key)! / steps);
      }
      const t0 = now();
      for (let i = 0; i < n; i++) {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${probe.table} (key, n) VALUES ($1, $2)`, [
          `raw-${rep}`,
          i,
        ]);
        await client.query('COMMIT');
      }
      if (rep > 0) runs.raw.push((now() - t0) / steps);
      await sleep(50);
    }
    const [tx, plain, raw] = [median(runs.tx), median(runs.plain), median(runs.raw)];
    return {
      rows: [
        {
          name: `transactional step (INSERT + checkpoint in one transaction), ${steps} steps`,
          measured: `${fmt(tx, 3)} ms/step`,
          baseline: `raw BEGIN/INSERT/COMMIT ${fmt(raw, 3)} ms; ordinary step + autocommit INSERT ${fmt(plain, 3)} ms`,
          ratio: `${fmt(tx / raw)}× raw tx`,
          goal: '≤ 1.5× raw tx',
          met: tx / raw <= 1.5 ? 'yes' : 'no',
          statements: `${fmt(txCounts.statements / txCounts.steps)} (+ COMMIT, START TRANSACTION)`,
          roundTrips: `${fmt(txCounts.roundTrips / txCounts.steps)} (INSERT; checkpoint + COMMIT + the next step's START TRANSACTION in one query string; a START of its own for the first two steps of a run)`,
          // The goal is not met yet: 2× the recorded 3.32×.
          guards: [guard(tx / raw, 6.6, 'lower', 'ratio to raw tx')],
        },
      ],
      notes: [
        `transactional: engine pool per transactional step (${REPS} runs; includes the run's start, end and the result poll): ${[
          ...txLabels,
        ]
          .map(([label, n]) => `${label} ${fmt(n / txCounts.steps)}`)
          .join(', ')}.`,
        `transactional: medians of ${REPS} runs of ${steps} steps per kind, alternating, after a warm-up run of ${warmSteps} steps per kind (the JIT's steady state, as in a long-lived worker; with 100 warm-up steps the first measured runs are ~15 % slower); ms/step tx ${runs.tx.map((v) => fmt(v, 3)).join(', ')}; ordinary ${runs.plain.map((v) => fmt(v, 3)).join(', ')}; raw ${runs.raw.map((v) => fmt(v, 3)).join(', ')}.`,
      ],
    };
  } finally {
    await client.end();
    await probe.pool?.end();
    await bench.close();
  }
}
