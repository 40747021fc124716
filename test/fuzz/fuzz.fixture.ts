import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import {
  Branch,
  DurableStep,
  ExecutionFailedError,
  Repeat,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { type RunScope, runStorage, stepStorage } from '../../lib/executor/run-scope.js';
import { DATABASE_URL } from '../support/env.js';
import { STEP_ATTEMPTS, stateKey, type StepNode, type Stmt } from './program.js';

/** Schema of the fuzz suite (worker processes get it through the environment). */
export const fuzzSchema = (): string => process.env.CF_TEST_SCHEMA ?? 'public';

/** Budget of every step, tick and `ctx.step` of the fuzz workflows: short backoffs, no jitter. */
export const stepRetry = new RetryPolicy({
  maxAttempts: STEP_ATTEMPTS,
  base: '10ms',
  cap: '40ms',
  jitter: false,
});
/** Workflow-level budget (uncaught errors: `throwOnce` nodes and failed engine statements). */
const workflowRetry = new RetryPolicy({ maxAttempts: 12, base: '20ms', cap: '200ms' });

/** Input of `fuzz.program`: the program body and the run key of the root (for the ledger). */
export interface ProgramInput {
  root: string;
  body: Stmt[];
}

/** A value the interpreter records per node: the result of `fuzz.program` is `{ [node]: value }`. */
export type Value = string | null | Value[];

/**
 * The ledger and the test's control tables, written through a pool of its own (autocommit), so a
 * row survives whatever happens to the pass: `fuzz_ledger` (one row per step body execution, written
 * when the body starts), `fuzz_attempts` (attempt counters of flaky and broken bodies) and
 * `fuzz_fixed` (runs whose broken steps the driver fixed).
 */
@Injectable()
export class FuzzLedger implements OnModuleDestroy {
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: 6 });
  private readonly passes = new WeakMap<RunScope, string>();
  private passCounter = 0;

  constructor() {
    this.pool.on('error', () => undefined);
  }

  static ddl(schema: string): string[] {
    const s = `"${schema}"`;
    return [
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_ledger (id bigserial PRIMARY KEY, root text NOT NULL,
         key text NOT NULL, node text NOT NULL, step text NOT NULL, pid int NOT NULL, pass text NOT NULL,
         owner text NOT NULL, holder text, run_state text, at timestamptz NOT NULL DEFAULT clock_timestamp())`,
      `CREATE INDEX IF NOT EXISTS fuzz_ledger_root ON ${s}.fuzz_ledger (root)`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_attempts (root text, node text, n int NOT NULL,
         PRIMARY KEY (root, node))`,
      `CREATE TABLE IF NOT EXISTS ${s}.fuzz_fixed (root text PRIMARY KEY)`,
    ];
  }

  private scope(): { scope: RunScope; step: string } {
    const scope = runStorage.getStore();
    const step = stepStorage.getStore();
    if (!scope || !step) throw new Error('FuzzLedger must be called inside a step body');
    return { scope, step };
  }

  private passOf(scope: RunScope): string {
    let pass = this.passes.get(scope);
    if (!pass) {
      pass = `${process.pid}:${++this.passCounter}`;
      this.passes.set(scope, pass);
    }
    return pass;
  }

  /** Appends the ledger row of the body of `node` (through `manager` when it is transactional). */
  async record(
    root: string,
    node: string,
    via?: { query(q: string, v: unknown[]): Promise<unknown> },
  ) {
    const { scope, step } = this.scope();
    const s = `"${fuzzSchema()}"`;
    const wf = `${s}.chrono_forge_workflows`;
    const q = `INSERT INTO ${s}.fuzz_ledger (root, key, node, step, pid, pass, owner, holder, run_state)
       SELECT $1, $2, $3, $4, $5, $6, $7, w.locked_by, w.state FROM ${wf} w WHERE w.id = $8`;
    const values = [
      root,
      scope.run.key,
      node,
      step,
      process.pid,
      this.passOf(scope),
      scope.owner,
      scope.run.id,
    ];
    await (via ?? this.pool).query(q, values);
  }

  /** Increments and returns the attempt counter of `node`. */
  async attempt(root: string, node: string): Promise<number> {
    const rows = await this.pool.query<{ n: number }>(
      `INSERT INTO "${fuzzSchema()}".fuzz_attempts AS a (root, node, n) VALUES ($1, $2, 1)
       ON CONFLICT (root, node) DO UPDATE SET n = a.n + 1 RETURNING n`,
      [root, node],
    );
    return rows.rows[0].n;
  }

  async isFixed(root: string): Promise<boolean> {
    const rows = await this.pool.query(
      `SELECT 1 FROM "${fuzzSchema()}".fuzz_fixed WHERE root = $1`,
      [root],
    );
    return rows.rowCount! > 0;
  }

  /** Completed ticks of the repeat whose `till` is running (its coordination log's ticks). */
  async completedTicks(): Promise<number> {
    const scope = runStorage.getStore()!;
    const coord = stepStorage.getStore()!.replace(/\$till$/, '');
    const rows = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${fuzzSchema()}".chrono_forge_execution_logs
       WHERE workflow_id = $1 AND state = 'completed' AND starts_with(step_name, $2)`,
      [scope.run.id, `${coord}$`],
    );
    return rows.rows[0].n;
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

/** The step bodies. Each writes its ledger row first, then maybe throws. */
@Injectable()
export class FuzzSteps {
  constructor(
    private readonly ledger: FuzzLedger,
    private readonly ctx: WorkflowContext,
  ) {}

  /** Works `ms`, then throws while the node's attempt counter is at most `flaky`. */
  async body(root: string, node: string, flaky: number, ms = 0): Promise<string> {
    await this.ledger.record(root, node);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    if (flaky > 0 && (await this.ledger.attempt(root, node)) <= flaky)
      throw new Error(`flaky ${node}`);
    return `v_${node}`;
  }

  @DurableStep({ retry: stepRetry })
  async work(root: string, node: string, flaky = 0, ms = 0): Promise<string> {
    return this.body(root, node, flaky, ms);
  }

  /** Exactly once: the ledger row commits with the checkpoint (a failed attempt rolls it back). */
  @DurableStep({ transactional: true, retry: stepRetry })
  async txWork(root: string, node: string, flaky = 0, ms = 0): Promise<string> {
    if (flaky > 0 && (await this.ledger.attempt(root, node)) <= flaky)
      throw new Error(`flaky ${node}`);
    await this.ledger.record(root, node, this.ctx.manager);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return `v_${node}`;
  }

  @DurableStep({ retry: stepRetry })
  async broken(root: string, node: string): Promise<string> {
    await this.ledger.record(root, node);
    if (!(await this.ledger.isFixed(root))) throw new Error(`broken ${node}`);
    return `v_${node}`;
  }

  @DurableStep({ retry: stepRetry })
  async outer(root: string, node: string, inner: string): Promise<string[]> {
    await this.ledger.record(root, node);
    return [`v_${node}`, await this.work(root, inner)];
  }
}

interface TickArgs {
  root: string;
  node: string;
  ticks: number;
}

@Injectable()
export class FuzzTicker {
  constructor(private readonly ledger: FuzzLedger) {}

  async done(args: TickArgs): Promise<boolean> {
    return (await this.ledger.completedTicks()) >= args.ticks;
  }

  @Repeat('100ms', { name: 'tick', till: 'done', retry: stepRetry })
  async tick(args: TickArgs, _scheduledAt = new Date()): Promise<void> {
    await this.ledger.record(args.root, args.node);
  }
}

interface FanArgs {
  root: string;
  node: string;
  children: number;
  each: boolean;
}

/** The generic workflow: interprets the program in its input. */
@Injectable()
export class FuzzWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly steps: FuzzSteps,
    private readonly ticker: FuzzTicker,
    private readonly ledger: FuzzLedger,
  ) {}

  @Workflow('fuzz.program', { retry: workflowRetry })
  async program(input: ProgramInput): Promise<Record<string, Value>> {
    const values: Record<string, Value> = {};
    await this.exec(input.root, input.body, values);
    return values;
  }

  private step(root: string, s: StepNode): Promise<string> {
    if (s.via === 'inline')
      return this.ctx.step(`s_${s.id}`, () => this.steps.body(root, s.id, s.flaky, s.ms), {
        retry: stepRetry,
      });
    if (s.via === 'tx') return this.steps.txWork(root, s.id, s.flaky, s.ms);
    return this.steps.work(root, s.id, s.flaky, s.ms);
  }

  private async exec(root: string, body: Stmt[], values: Record<string, Value>): Promise<void> {
    for (const s of body) {
      switch (s.k) {
        case 'step':
          values[s.id] = await this.step(root, s);
          break;
        case 'broken':
          values[s.id] = await this.steps.broken(root, s.id);
          break;
        case 'all':
          values[s.id] = await Promise.all(s.items.map((i) => this.step(root, i)));
          break;
        case 'loop': {
          const out: Value[] = [];
          values[s.id] = out;
          for (let i = 0; i < s.count; i++) {
            try {
              out.push(await this.steps.work(root, `${s.id}.${i}`, 0, s.ms));
            } catch (err) {
              if (!s.guard) throw err;
            }
          }
          break;
        }
        case 'try':
          try {
            await this.exec(root, s.body, values);
          } catch (err) {
            if (s.mode === 'typed' && !(err instanceof ExecutionFailedError)) throw err;
          }
          break;
        case 'sleep':
          await this.ctx.sleep(s.ms, `z_${s.id}`);
          break;
        case 'signal':
          values[s.id] = await this.ctx.waitForSignal<string>(`g_${s.id}`);
          break;
        case 'repeat':
          await this.ticker.tick({ root, node: s.id, ticks: s.ticks });
          break;
        case 'branch':
          await this.fan({ root, node: s.id, children: s.children, each: s.each });
          await this.ctx.merge('fan', { minInterval: '50ms', maxInterval: '250ms' });
          break;
        case 'nested':
          values[s.id] = await this.steps.outer(root, s.id, s.innerId);
          break;
        case 'set':
          if (s.inStep) {
            await this.ctx.step(`st_${s.id}`, async () => {
              await this.ledger.record(root, s.id);
              this.ctx.state.set(`k_${s.id}`, `v_${s.id}`);
            });
          } else {
            this.ctx.state.set(`k_${s.id}`, `v_${s.id}`);
          }
          break;
        case 'get':
          values[s.id] = this.ctx.state.get<string>(stateKey(s.ref)) ?? null;
          break;
        case 'throwOnce':
          if ((await this.ledger.attempt(root, s.id)) === 1) throw new Error(`transient ${s.id}`);
          break;
      }
    }
  }

  @Branch()
  async fan(args: FanArgs): Promise<void> {
    const ids = Array.from({ length: args.children }, (_, i) => i);
    const spec = (i: number) => ({
      workflow: 'fuzz.child',
      input: { root: args.root, node: `${args.node}.c${i}` },
    });
    if (args.each) await this.ctx.spawnEach('kids', ids, spec, { of: 2 });
    else for (const i of ids) await this.ctx.spawn(`kid${i}`, spec(i));
  }

  @Workflow('fuzz.child', { retry: workflowRetry })
  async child(input: { root: string; node: string }): Promise<string> {
    return this.steps.work(input.root, input.node);
  }
}

export const fuzzProviders = [FuzzLedger, FuzzSteps, FuzzTicker, FuzzWorkflows];
