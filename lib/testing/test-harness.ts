import type { TestingModule } from '@nestjs/testing';
import { WorkflowClient } from '../client/workflow.client.js';
import type { WorkflowRunDetail } from '../client/workflow-run.interface.js';
import { ResultTimeoutError } from '../errors/result-timeout.error.js';
import { type CrashPhase, FaultInjector } from '../executor/fault-injector.js';
import { WorkflowStore } from '../persistence/workflow.store.js';
import { WorkflowQueue } from '../queue/workflow.queue.js';
import { WorkflowWorker } from '../queue/workflow.worker.js';
import type { TestClock } from '../timers/clock.js';
import { type Duration, toMs } from '../util/duration.util.js';

/** One crash variant of `explore`. @publicApi */
export interface ExploreVariant {
  step: string;
  phase: CrashPhase;
  key: string;
  state: string;
  result: unknown;
  /** Ended like the clean run: same state, same result, same completed steps. */
  ok: boolean;
}

/** Report of `explore`. @publicApi */
export interface ExploreReport {
  clean: { key: string; state: string; result: unknown; steps: string[] };
  variants: ExploreVariant[];
  ok: boolean;
}

const TERMINAL = new Set(['completed', 'failed', 'stalled', 'cancelled']);
const completedSteps = (run: WorkflowRunDetail) =>
  run.steps
    .filter((s) => s.state === 'completed' && !s.name.startsWith('$'))
    .map((s) => s.name)
    .sort();

/**
 * A booted application with an isolated schema and queue, a {@link TestClock}, and helpers that
 * drive runs to the end (`runToCompletion`) and crash them at every step boundary (`explore`).
 *
 * @publicApi
 */
export class ChronoForgeTestHarness {
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
   * Drives run `key` to a terminal state: moves the clock to each pending wake time, recovers passes
   * that crashed (their lock is made stale), and returns the final run.
   */
  async runToCompletion(
    key: string,
    options: { timeout?: Duration; workflow?: string } = {},
  ): Promise<WorkflowRunDetail> {
    const deadline = Date.now() + toMs(options.timeout ?? '30s', 'runToCompletion timeout');
    const store = this.moduleRef.get(WorkflowStore);
    const worker = this.moduleRef.get(WorkflowWorker);
    for (;;) {
      const run = await this.client.get(key, { workflow: options.workflow });
      if (TERMINAL.has(run.state)) return run;
      if (Date.now() > deadline)
        throw new ResultTimeoutError(`Run "${key}" is still ${run.state} (runToCompletion).`);
      const faults = this.moduleRef.get(FaultInjector);
      let crashed: { id: string }[] = [];
      if (faults.crashed.delete(key)) {
        // What a dead worker leaves behind: a held lock. Age it past maxDuration so it is taken over.
        crashed = await store.query<{ id: string }>(
          `UPDATE ${store.wf} SET locked_at = now() - (max_duration_ms + 1000) * interval '1 millisecond'
           WHERE id = $1 AND state = 'running' RETURNING id`,
          [run.id],
        );
      }
      if (
        crashed.length > 0 ||
        (run.state === 'idle' && run.nextRunAt && run.nextRunAt.getTime() > this.clock.now() - 1000)
      ) {
        if (run.nextRunAt && run.nextRunAt.getTime() > this.clock.now() - 1000) {
          this.clock.set(Math.max(this.clock.now(), run.nextRunAt.getTime() + 1001));
        }
        await worker.sweep();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Runs `workflow` once cleanly, then once per step boundary crashing just before and just after
   * that step's checkpoint, and reports whether every variant ended like the clean run
   * (the TypeScript counterpart of ChaoticJob).
   */
  async explore(
    workflow: string,
    input: unknown,
    options: { keyPrefix?: string; timeout?: Duration } = {},
  ): Promise<ExploreReport> {
    const prefix = options.keyPrefix ?? `explore-${workflow}-${Date.now()}`;
    const faults = this.moduleRef.get(FaultInjector);
    const cleanKey = `${prefix}-clean`;
    await this.client.start(workflow, { key: cleanKey, input });
    const cleanRun = await this.runToCompletion(cleanKey, options);
    const clean = {
      key: cleanKey,
      state: cleanRun.state,
      result: cleanRun.result,
      steps: completedSteps(cleanRun),
    };
    const variants: ExploreVariant[] = [];
    for (const step of clean.steps.filter((s) => s.startsWith('step$'))) {
      for (const phase of ['before', 'after'] as const) {
        const key = `${prefix}-${step}-${phase}`;
        faults.arm(key, step, phase);
        await this.client.start(workflow, { key, input });
        const run = await this.runToCompletion(key, options);
        const ok =
          faults.fired &&
          run.state === clean.state &&
          JSON.stringify(run.result) === JSON.stringify(clean.result) &&
          JSON.stringify(completedSteps(run)) === JSON.stringify(clean.steps);
        variants.push({ step, phase, key, state: run.state, result: run.result, ok });
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
}
