import { Injectable } from '@nestjs/common';
import {
  Branch,
  DurableStep,
  ExecutionFailedError,
  OnCancel,
  Workflow,
  WorkflowContext,
} from '../../lib/index.js';
import { FuzzLedger } from './ledger.js';
import { FuzzTicker, LEASE, stepRetry, workflowRetry } from './ticker.fixture.js';
import { writeNode } from './write-nodes.js';
import { type LimitedNode, RACE_LAG_MS, stateKey, type StepNode, type Stmt } from './program.js';

/** Ledger node of the `@OnCancel()` cleanup of `fuzz.saga` (it runs in the rollback, as undos do). */
export const ON_CANCEL_NODE = 'oncancel.undo';

/** Input of `fuzz.program`: the program body and the run key of the root (for the ledger). */
export interface ProgramInput {
  root: string;
  body: Stmt[];
  /** `fuzz.saga`: plain steps are compensated. */
  saga?: boolean;
  /** Prefix of the batch's limit and once keys (shared by its runs, not by other batches). */
  scope?: string;
}

/** A value the interpreter records per node: the result of `fuzz.program` is `{ [node]: value }`. */
export type Value = string | null | Value[];

/** The step bodies. Each writes its ledger row first, then maybe throws. */
@Injectable()
export class FuzzSteps {
  constructor(
    private readonly ledger: FuzzLedger,
    private readonly ctx: WorkflowContext,
  ) {}

  /**
   * A body's work: `ms` milliseconds. With a `tick` (an `align`ed step) it ends `ms` after the
   * FIRST start of the node's body (by any pass: a taken-over pass's body and its successor's end
   * together), rounded up to a multiple of `tick` ms of the clock (so concurrent bodies of other
   * runs end then too): their checkpoints are in flight at once, and group-committed together.
   */
  private async pause(root: string, node: string, ms: number, tick: number): Promise<void> {
    if (ms === 0) return;
    const end =
      tick === 0
        ? Date.now() + ms
        : Math.ceil(((await this.ledger.firstStart(root, node)) + ms) / tick) * tick;
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
  }

  /**
   * A racing body's work (`StepNode.race`): until a second pass started the node's body (at most
   * `ms` after the first start), then `RACE_LAG_MS` after that start.
   */
  private async race(root: string, node: string, ms: number): Promise<void> {
    const second = await this.ledger.secondStart(root, node, ms);
    if (second === null) return;
    await new Promise((r) => setTimeout(r, Math.max(0, second + RACE_LAG_MS - Date.now())));
  }

  /**
   * Works `ms` (`race`: see {@link race}), then throws while the node's attempt counter is at
   * most `flaky`.
   */
  async body(
    root: string,
    node: string,
    flaky: number,
    ms = 0,
    tick = 0,
    race = false,
  ): Promise<string> {
    await this.ledger.record(root, node);
    if (race) await this.race(root, node, ms);
    else await this.pause(root, node, ms, tick);
    if (flaky > 0 && (await this.ledger.attempt(root, node)) <= flaky)
      throw new Error(`flaky ${node}`);
    return `v_${node}`;
  }

  @DurableStep({ retry: stepRetry })
  async work(
    root: string,
    node: string,
    flaky = 0,
    ms = 0,
    tick = 0,
    race = false,
  ): Promise<string> {
    return this.body(root, node, flaky, ms, tick, race);
  }

  /** Exactly once: the ledger row commits with the checkpoint (a failed attempt rolls it back). */
  @DurableStep({ transactional: true, retry: stepRetry })
  async txWork(root: string, node: string, flaky = 0, ms = 0, tick = 0): Promise<string> {
    if (flaky > 0 && (await this.ledger.attempt(root, node)) <= flaky)
      throw new Error(`flaky ${node}`);
    await this.ledger.record(root, node, this.ctx.manager);
    await this.pause(root, node, ms, tick);
    return `v_${node}`;
  }

  /** `work` with a compensation: `undo` writes ledger node `<node>.undo`. */
  @DurableStep({ retry: stepRetry, compensate: 'undo' })
  async sagaWork(root: string, node: string, flaky = 0, ms = 0, tick = 0): Promise<string> {
    return this.body(root, node, flaky, ms, tick);
  }

  /** `txWork` with a transactional compensation: both ledger rows are exactly once. */
  @DurableStep({ transactional: true, retry: stepRetry, compensate: 'txUndo' })
  async sagaTxWork(root: string, node: string, flaky = 0, ms = 0, tick = 0): Promise<string> {
    return this.txWork(root, node, flaky, ms, tick);
  }

  /** A compensation body (it receives the step's arguments, then its result: unused here). */
  async undo(root: string, node: string): Promise<void> {
    await this.ledger.record(root, `${node}.undo`);
  }

  async txUndo(root: string, node: string): Promise<void> {
    await this.ledger.record(root, `${node}.undo`, this.ctx.manager);
  }

  /** The body of a limited node: ledger row, then its start and end in the limit ledger. */
  async limited(root: string, s: LimitedNode, lkey: string): Promise<string> {
    await this.ledger.record(root, s.id);
    const id = await this.ledger.limitStart(root, s.id, s.limit, lkey, s.ms);
    if (s.ms > 0) await new Promise((r) => setTimeout(r, s.ms));
    await this.ledger.limitEnd(id);
    return `v_${s.id}`;
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
    await this.exec(input.root, input.body, values, input.saga === true, input.scope ?? '');
    return values;
  }

  /** The same programs with compensated steps, rolled back on a stall or a cancel. */
  @Workflow('fuzz.saga', {
    retry: workflowRetry,
    compensateOn: ['failed', 'stalled', 'cancelled'],
  })
  async saga(input: ProgramInput): Promise<Record<string, Value>> {
    return this.program({ ...input, saga: true });
  }

  /** The same programs with a short lock lifetime (see `Program.lease`). */
  @Workflow('fuzz.lease', { retry: workflowRetry, maxDuration: LEASE })
  async lease(input: ProgramInput): Promise<Record<string, Value>> {
    return this.program(input);
  }

  /** The `@OnCancel()` cleanup of a cancelled saga: ledger node `oncancel.undo`, after its rollback. */
  @OnCancel({ workflow: 'fuzz.saga', retry: stepRetry })
  async sagaCancelled(input: ProgramInput): Promise<void> {
    await this.ledger.record(input.root, ON_CANCEL_NODE);
  }

  private step(root: string, s: StepNode, saga: boolean): Promise<string> {
    const [ms, tick, race] = [s.ms, s.align ?? 0, s.race === true];
    if (s.via === 'inline')
      return this.ctx.step(
        `s_${s.id}`,
        () => this.steps.body(root, s.id, s.flaky, ms, tick, race),
        {
          retry: stepRetry,
          ...(saga ? { compensate: () => this.steps.undo(root, s.id) } : {}),
        },
      );
    if (s.via === 'tx')
      return saga
        ? this.steps.sagaTxWork(root, s.id, s.flaky, ms, tick)
        : this.steps.txWork(root, s.id, s.flaky, ms, tick);
    return saga
      ? this.steps.sagaWork(root, s.id, s.flaky, ms, tick)
      : this.steps.work(root, s.id, s.flaky, ms, tick, race);
  }

  private async exec(
    root: string,
    body: Stmt[],
    values: Record<string, Value>,
    saga: boolean,
    scope: string,
  ): Promise<void> {
    for (const s of body) {
      switch (s.k) {
        case 'step':
          values[s.id] = await this.step(root, s, saga);
          break;
        case 'broken':
          values[s.id] = await this.steps.broken(root, s.id);
          break;
        case 'all':
          values[s.id] = await Promise.all(s.items.map((i) => this.step(root, i, saga)));
          break;
        case 'loop': {
          const out: Value[] = [];
          values[s.id] = out;
          for (let i = 0; i < s.count; i++) {
            try {
              const node = `${s.id}.${i}`;
              out.push(
                await (s.tx
                  ? this.steps.txWork(root, node, 0, s.ms)
                  : this.steps.work(root, node, 0, s.ms)),
              );
            } catch (err) {
              if (!s.guard) throw err;
            }
          }
          break;
        }
        case 'try':
          try {
            await this.exec(root, s.body, values, saga, scope);
          } catch (err) {
            if (s.mode === 'typed' && !(err instanceof ExecutionFailedError)) throw err;
          }
          break;
        case 'sleep':
          await this.ctx.sleep(s.ms, `z_${s.id}`);
          break;
        case 'wakeMiss':
          if ((await this.ledger.attempt(root, s.id)) === 2) throw new Error(`transient ${s.id}`);
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
        case 'call':
          values[s.id] = await this.ctx.call<string>(
            'fuzz.child',
            { root, node: `${s.id}.c0` },
            { key: `c_${s.id}` },
          );
          break;
        case 'nested':
          values[s.id] = await this.steps.outer(root, s.id, s.innerId);
          break;
        case 'set':
        case 'attr':
          await writeNode(this.ctx, this.ledger, root, s);
          break;
        case 'get':
          values[s.id] = this.ctx.state.get<string>(stateKey(s.ref)) ?? null;
          break;
        case 'limited': {
          const key = `${scope}k${s.key}`;
          values[s.id] = await this.ctx.step(`l_${s.id}`, () => this.steps.limited(root, s, key), {
            retry: stepRetry,
            limit: { name: `fuzz.${s.limit}`, key },
          });
          break;
        }
        case 'once':
          await this.ctx.once(`${scope}o${s.key}`, '1h', () => this.steps.work(root, s.id));
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
