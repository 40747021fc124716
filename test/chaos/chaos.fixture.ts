import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import type { EntityManager } from 'typeorm';
import {
  Branch,
  DurableStep,
  Repeat,
  RetryPolicy,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { runStorage, type RunScope } from '../../lib/run/run-scope.js';
import { stepStorage } from '../../lib/run/call-storage.js';
import { DATABASE_URL } from '../support/env.js';

/** Schema of the chaos suite, given to worker processes through the environment. */
export const chaosSchema = (): string => process.env.CF_TEST_SCHEMA ?? 'public';

/** Repeat ticks each parent runs before its `till` holds. */
export const CHAOS_TICKS = 3;
/** Children each parent spawns in its branch. */
export const CHAOS_CHILDREN = 4;
/** `i` of the child each parent calls with `ctx.call` (after its merge): apart from the branch's. */
export const CHAOS_CALLED_I = 1000;
/** Step whose body writes its ledger row in its own (the checkpoint's) transaction. */
export const TRANSACTIONAL_STEP = 'step$epsilon';
/** Signal every parent waits for; its payload is `go-<key>`. */
export const CHAOS_SIGNAL = 'go';

/**
 * Generous budgets: a PostgreSQL restart makes bodies and engine writes fail for a moment, and each
 * such failure spends one attempt. The backoff stays short so runs drain quickly.
 */
const chaosRetry = new RetryPolicy({ maxAttempts: 50, base: '50ms', cap: '500ms' });

/** Steps whose name starts with this are markers (the flaky step's first attempt), not bodies. */
export const MARKER_PREFIX = '!';

/**
 * The ledger: every step body appends one row in its own transaction before returning. A row says
 * which body ran (`key`, `step` = the engine's step name), in which process (`pid`, `worker`), in
 * which pass (`pass`: unique per RunScope, i.e. per lock acquisition), which lock owner that pass
 * held (`owner`) and who held the run's lock at the very instant of the write (`holder`, read in
 * the same statement).
 */
@Injectable()
export class ChaosLedger implements OnModuleDestroy {
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: 6 });
  private readonly passes = new WeakMap<RunScope, string>();
  private passCounter = 0;

  constructor() {
    // Idle clients die when PostgreSQL restarts; without a listener the process would crash.
    this.pool.on('error', () => undefined);
  }

  static async createTable(schema: string, run: (q: string) => Promise<unknown>): Promise<void> {
    await run(
      `CREATE TABLE IF NOT EXISTS "${schema}".ledger (
         id bigserial PRIMARY KEY, key text NOT NULL, step text NOT NULL, pid int NOT NULL, worker text NOT NULL,
         pass text NOT NULL, owner text NOT NULL, holder text, at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  /** Appends the ledger row of the step body running in the current call chain. */
  async record(): Promise<void> {
    const scope = runStorage.getStore();
    const step = stepStorage.getStore();
    if (!scope || !step) throw new Error('ChaosLedger.record() must run inside a step body');
    await this.insert(scope, step);
  }

  /** Whether the marker `!<suffix>` of the current run exists. */
  async hasMarker(suffix: string): Promise<boolean> {
    const scope = runStorage.getStore()!;
    const rows = await this.pool.query(
      `SELECT 1 FROM "${chaosSchema()}".ledger WHERE key = $1 AND step = $2 LIMIT 1`,
      [scope.run.key, `${MARKER_PREFIX}${suffix}`],
    );
    return rows.rowCount! > 0;
  }

  async mark(suffix: string): Promise<void> {
    await this.insert(runStorage.getStore()!, `${MARKER_PREFIX}${suffix}`);
  }

  /** Completed ticks of repeat `name` of run `workflowId` (what its `till` checks). */
  async completedTicks(workflowId: string, name: string): Promise<number> {
    const rows = await this.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${chaosSchema()}".chrono_forge_execution_logs
       WHERE workflow_id = $1 AND step_name LIKE $2 AND state = 'completed'`,
      [workflowId, `durably\\_repeat$${name}$%`],
    );
    return rows.rows[0].n;
  }

  private passOf(scope: RunScope): string {
    let pass = this.passes.get(scope);
    if (!pass) {
      pass = `${process.pid}:${++this.passCounter}`;
      this.passes.set(scope, pass);
    }
    return pass;
  }

  /**
   * The ledger row of a transactional step, written through the step's own transaction
   * (`ctx.manager`): it commits together with the step's checkpoint, so exactly one row may exist.
   */
  async recordIn(manager: EntityManager): Promise<void> {
    const scope = runStorage.getStore();
    const step = stepStorage.getStore();
    if (!scope || !step) throw new Error('ChaosLedger.recordIn() must run inside a step body');
    await manager.query(this.insertSql(), this.insertValues(scope, step));
  }

  private insertSql(): string {
    const s = chaosSchema();
    return `INSERT INTO "${s}".ledger (key, step, pid, worker, pass, owner, holder)
       SELECT $1, $2, $3, $4, $5, $6, (SELECT locked_by FROM "${s}".chrono_forge_workflows WHERE id = $7)`;
  }

  private insertValues(scope: RunScope, step: string): unknown[] {
    return [
      scope.run.key,
      step,
      process.pid,
      process.env.CHAOS_WORKER_ID ?? 'main',
      this.passOf(scope),
      scope.owner,
      scope.run.id,
    ];
  }

  private async insert(scope: RunScope, step: string): Promise<void> {
    await this.pool.query(this.insertSql(), this.insertValues(scope, step));
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

/** The step bodies of the chaos workflows. */
@Injectable()
export class ChaosSteps {
  constructor(
    private readonly ledger: ChaosLedger,
    private readonly ctx: WorkflowContext,
  ) {}

  @DurableStep()
  async alpha(key: string): Promise<string> {
    await this.ledger.record();
    return `alpha-${key}`;
  }

  /** Fails its first attempt (durably: the marker survives crashes), then succeeds. */
  @DurableStep()
  async flaky(key: string): Promise<string> {
    if (!(await this.ledger.hasMarker('flaky'))) {
      await this.ledger.mark('flaky');
      throw new Error(`flaky first attempt of ${key}`);
    }
    await this.ledger.record();
    return `flaky-${key}`;
  }

  @DurableStep()
  async beta(key: string): Promise<string> {
    await this.ledger.record();
    return `beta-${key}`;
  }

  @DurableStep()
  async gamma(signal: string): Promise<string> {
    await this.ledger.record();
    return `gamma-${signal}`;
  }

  /** Exactly-once: its ledger row is written in the step's transaction, with its checkpoint. */
  @DurableStep({ transactional: true })
  async epsilon(key: string): Promise<string> {
    await this.ledger.recordIn(this.ctx.manager);
    return `epsilon-${key}`;
  }

  @DurableStep()
  async delta(children: number): Promise<number> {
    await this.ledger.record();
    return children;
  }

  @DurableStep()
  async childOne(i: number): Promise<number> {
    await this.ledger.record();
    return i;
  }

  @DurableStep()
  async childTwo(i: number): Promise<number> {
    await this.ledger.record();
    return i * 10;
  }
}

interface TickArgs {
  workflowId: string;
}

/** A repeat that runs CHAOS_TICKS ticks 200 ms apart. */
@Injectable()
export class ChaosTicker {
  constructor(private readonly ledger: ChaosLedger) {}

  async ticksDone(args: TickArgs): Promise<boolean> {
    return (await this.ledger.completedTicks(args.workflowId, 'tick')) >= CHAOS_TICKS;
  }

  @Repeat('200ms', { name: 'tick', till: 'ticksDone', retry: chaosRetry })
  async tick(_args: TickArgs, _scheduledAt = new Date()): Promise<void> {
    await this.ledger.record();
  }
}

/** What a chaos parent returns. */
export interface ChaosResult {
  key: string;
  signal: string;
  gamma: string;
  children: number;
}

@Injectable()
export class ChaosWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly steps: ChaosSteps,
    private readonly ticker: ChaosTicker,
  ) {}

  @Workflow('chaos.parent', { maxDuration: '2s', retry: chaosRetry })
  async parent(input: { children: number }): Promise<ChaosResult> {
    const key = this.ctx.key;
    await this.steps.alpha(key);
    await this.steps.flaky(key);
    await this.ctx.sleep('300ms', 'nap');
    await this.steps.beta(key);
    const signal = await this.ctx.waitForSignal<string>(CHAOS_SIGNAL);
    const gamma = await this.steps.gamma(signal);
    await this.steps.epsilon(key);
    await this.ticker.tick({ workflowId: this.ctx.workflowId });
    await this.fan(input.children);
    await this.ctx.merge('fan', { minInterval: '50ms', maxInterval: '300ms' });
    await this.ctx.call('chaos.child', { i: CHAOS_CALLED_I }, { key: 'called' });
    const children = await this.steps.delta(input.children);
    return { key, signal, gamma, children };
  }

  @Branch()
  async fan(children: number): Promise<void> {
    const ids = Array.from({ length: children }, (_, i) => i);
    await this.ctx.spawnEach('kid', ids, (i) => ({ workflow: 'chaos.child', input: { i } }), {
      of: 2,
    });
  }

  @Workflow('chaos.child', { maxDuration: '2s', retry: chaosRetry })
  async child(input: { i: number }): Promise<number> {
    const one = await this.steps.childOne(input.i);
    const two = await this.steps.childTwo(input.i);
    return one + two;
  }
}

export const chaosProviders = [ChaosLedger, ChaosSteps, ChaosTicker, ChaosWorkflows];
