import type { TestingModule } from '@nestjs/testing';
import { isDeepStrictEqual } from 'node:util';
import { WorkflowClient } from '../client/workflow.client.js';
import type { WorkflowRunDetail } from '../client/workflow-run.interface.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { ResultTimeoutError } from '../errors/result-timeout.error.js';
import { FaultInjector, parseTick, spawnTarget, tickTarget } from '../steps/fault-injector.js';
import { LOCK_EXPIRY_CUTOFF } from '../persistence/workflow.sql.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { WorkflowWorker } from '../worker/workflow.worker.js';
import type { TestClock } from '../util/clock.js';
import { toMs } from '../util/duration.util.js';
import {
  completedSteps,
  defaultOutcome,
  type ExploreOptions,
  type ExploreReport,
  type ExploreVariant,
  type RunToCompletionOptions,
  type TestHarness,
} from './explore-options.interface.js';

const TERMINAL = new Set(['completed', 'failed', 'stalled', 'cancelled', 'compensated']);
/**
 * A crash point of `explore`: a checkpoint of a durable call of the root run (`suffix` '') or of a
 * descendant run.
 */
interface CrashTarget {
  suffix: string;
  step: string;
}

/**
 * A booted application with an isolated schema and queue, a {@link TestClock}, and helpers that
 * drive runs to the end (`runToCompletion`) and crash them at the checkpoint of every durable call
 * (`explore`).
 *
 * @publicApi
 */
export class ChronoForgeTestHarness implements TestHarness {
  readonly client: WorkflowClient;

  constructor(
    readonly moduleRef: TestingModule,
    readonly clock: TestClock,
    readonly schema: string,
    readonly queueName: string,
    private readonly teardown: () => Promise<void>,
  ) {
    this.client = moduleRef.get(WorkflowClient);
  }

  /**
   * Drives run `key` to a terminal state and returns it: calls `onIdle` while it waits, moves the
   * clock to each pending wake time, and recovers passes that crashed, in this run or any other
   * (their lock is aged past `maxDuration`, as a dead worker's would be).
   */
  async runToCompletion(
    key: string,
    options: RunToCompletionOptions = {},
  ): Promise<WorkflowRunDetail> {
    if (options.onIdle !== undefined && typeof options.onIdle !== 'function')
      throw new InvalidOptionsError('runToCompletion onIdle must be a function.');
    const deadline = Date.now() + toMs(options.timeout ?? '30s', 'runToCompletion timeout');
    const worker = this.moduleRef.get(WorkflowWorker);
    const selector = { workflow: options.workflow };
    for (;;) {
      let run = await this.client.get(key, selector);
      if (TERMINAL.has(run.state)) return run;
      if (Date.now() > deadline)
        throw new ResultTimeoutError(`Run "${key}" is still ${run.state} (runToCompletion).`);
      if (run.state === 'idle' && options.onIdle) {
        await options.onIdle(run, this);
        run = await this.client.get(key, selector);
      }
      const recovered = await this.recoverCrashed();
      const wakeAhead =
        run.state === 'idle' && run.nextRunAt && run.nextRunAt.getTime() > this.clock.now() - 1000;
      if (recovered || wakeAhead) {
        if (wakeAhead && run.nextRunAt) {
          // Past the wake time and the sweeper's grace period (1 s).
          this.clock.set(Math.max(this.clock.now(), run.nextRunAt.getTime() + 1001));
        }
        await worker.sweep();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Runs `workflow` once cleanly, then once per durable call of that run crashing just before and
   * just after its checkpoint (with `children`, also in every run it spawned), and reports whether
   * every variant ended like the clean run (the TypeScript counterpart of ChaoticJob). The durable
   * calls are steps (`step$`), timers (`wait$`, `wait_until$`, `continue_if$`), signal waits
   * (`signal$`), branch seals (`branch$`), spawns (`spawn$<branch>$<name>`: the insert of the
   * first batch of children), merges (`merge$`), repeats (`durably_repeat$<name>`, completed when
   * `till` holds) and repeat ticks (`durably_repeat$<name>$tick<n>`, the n-th tick).
   */
  async explore(
    workflow: string,
    input: unknown,
    options: ExploreOptions = {},
  ): Promise<ExploreReport> {
    const outcome = options.outcome ?? defaultOutcome;
    if (typeof outcome !== 'function')
      throw new InvalidOptionsError('explore outcome must be a function.');
    const drive: RunToCompletionOptions = { timeout: options.timeout, onIdle: options.onIdle };
    const prefix = options.keyPrefix ?? `explore-${workflow}-${Date.now()}`;
    const faults = this.moduleRef.get(FaultInjector);
    const cleanKey = `${prefix}-clean`;
    await this.client.start(workflow, { key: cleanKey, input });
    const cleanRun = await this.runToCompletion(cleanKey, drive);
    const clean = {
      key: cleanKey,
      state: cleanRun.state,
      result: cleanRun.result,
      steps: completedSteps(cleanRun),
      outcome: outcome(cleanRun),
    };
    const targets = await this.crashTargets(cleanRun, options.children === true);
    const variants: ExploreVariant[] = [];
    for (const { suffix, step } of targets) {
      for (const phase of ['before', 'after'] as const) {
        const key = `${prefix}-${suffix ? `${suffix.slice(1)}-` : ''}${step}-${phase}`;
        const crashedKey = `${key}${suffix}`;
        faults.arm(crashedKey, step, phase);
        let run: WorkflowRunDetail;
        let fired: boolean;
        try {
          await this.client.start(workflow, { key, input });
          run = await this.runToCompletion(key, drive);
        } finally {
          fired = faults.fired;
          faults.disarm(); // a crash that never fired must not strike another run
        }
        const projected = outcome(run);
        const ok = fired && isDeepStrictEqual(projected, clean.outcome);
        variants.push({
          step,
          phase,
          crashedKey,
          key,
          state: run.state,
          result: run.result,
          outcome: projected,
          fired,
          ok,
        });
      }
    }
    return { clean, variants, ok: variants.every((v) => v.ok) };
  }

  /** The engine queue (e.g. to inspect jobs). */
  get queue(): WorkflowQueue {
    return this.moduleRef.get(WorkflowQueue);
  }

  /** Closes the application, drops the schema and obliterates the queue. */
  async close(): Promise<void> {
    await this.moduleRef.close();
    await this.teardown();
  }

  /** Ages the locks simulated crashes left behind so the sweeper takes them over. */
  private async recoverCrashed(): Promise<boolean> {
    const faults = this.moduleRef.get(FaultInjector);
    const keys = [...faults.crashed];
    if (keys.length === 0) return false;
    for (const k of keys) faults.crashed.delete(k);
    const store = this.moduleRef.get(WorkflowStore);
    const aged = await store.query<{ id: string }>(
      `UPDATE ${store.wf} SET locked_at = ${LOCK_EXPIRY_CUTOFF} - interval '1 second'
       WHERE key = ANY($1::text[]) AND state = 'running' RETURNING id`,
      [keys],
    );
    return aged.length > 0;
  }

  /**
   * The checkpoints of the clean run's durable calls (and, with `children`, of every run it
   * spawned): every completed step, timer, signal wait, branch seal, merge, repeat and repeat tick
   * (by position: {@link tickTarget}), and every spawn ({@link spawnTarget}).
   */
  private async crashTargets(root: WorkflowRunDetail, children: boolean): Promise<CrashTarget[]> {
    const targets = checkpointsOf(root).map((step) => ({ suffix: '', step }));
    if (!children) return targets;
    // Children's keys extend their parent's: `<parentKey>$<parentWorkflow>$<branch>$<name>`.
    const descendants = await this.client.list({ keyPrefix: `${root.key}$`, limit: 500 });
    for (const summary of descendants.sort((a, b) => a.key.localeCompare(b.key))) {
      const child = await this.client.get(summary.key, { workflow: summary.workflow });
      const suffix = summary.key.slice(root.key.length);
      targets.push(...checkpointsOf(child).map((step) => ({ suffix, step })));
    }
    return targets;
  }
}

/** The crash targets of a finished run, in the order its durable calls were recorded. */
function checkpointsOf(run: WorkflowRunDetail): string[] {
  const done = run.steps.filter((s) => s.state === 'completed' && !s.name.startsWith('$'));
  const ticks = new Map<string, number[]>();
  for (const s of done) {
    const tick = parseTick(s.name);
    if (tick) ticks.set(tick.coordName, [...(ticks.get(tick.coordName) ?? []), tick.at]);
  }
  for (const at of ticks.values()) at.sort((a, b) => a - b);
  const targets: string[] = [];
  for (const s of done) {
    const tick = parseTick(s.name);
    if (tick) {
      targets.push(tickTarget(tick.coordName, ticks.get(tick.coordName)!.indexOf(tick.at) + 1));
      continue;
    }
    targets.push(s.name);
    const branch = /^branch\$(.+)$/.exec(s.name)?.[1];
    const cursors = s.metadata.cursors;
    if (branch !== undefined && cursors && typeof cursors === 'object')
      targets.push(...Object.keys(cursors).map((spawn) => spawnTarget(branch, spawn)));
  }
  return targets;
}
