import type { TestingModule } from '@nestjs/testing';
import type { WorkflowClient } from '../client/workflow.client.js';
import type { WorkflowRunDetail } from '../client/workflow-run.interface.js';
import type { WorkflowQueue } from '../queue/workflow.queue.js';
import type { CrashPhase } from '../steps/fault-injector.js';
import type { TestClock } from '../util/clock.js';
import type { Duration } from '../util/duration.util.js';

/**
 * The public surface of `ChronoForgeTestHarness`, which implements it: what an {@link IdleHook}
 * receives.
 *
 * @publicApi
 */
export interface TestHarness {
  readonly client: WorkflowClient;
  readonly moduleRef: TestingModule;
  readonly clock: TestClock;
  readonly schema: string;
  readonly queueName: string;
  /** The engine queue (e.g. to inspect jobs). */
  readonly queue: WorkflowQueue;
  /** See `ChronoForgeTestHarness.runToCompletion`. */
  runToCompletion(key: string, options?: RunToCompletionOptions): Promise<WorkflowRunDetail>;
  /** See `ChronoForgeTestHarness.explore`. */
  explore(workflow: string, input: unknown, options?: ExploreOptions): Promise<ExploreReport>;
  /** Closes the application, drops the schema and obliterates the queue. */
  close(): Promise<void>;
}

/**
 * Called while a driven run waits (`idle`), before the test clock is moved to its wake time: send
 * signals, `resume` a `continueIf` or change what a `waitUntil` checks. It runs many times per run,
 * so make it idempotent (e.g. signal once per key).
 *
 * @publicApi
 */
export type IdleHook = (run: WorkflowRunDetail, harness: TestHarness) => void | Promise<void>;

/** Options of `ChronoForgeTestHarness.runToCompletion`. @publicApi */
export interface RunToCompletionOptions {
  /** Real time after which it gives up with `ResultTimeoutError`. @default '30s' */
  timeout?: Duration;
  /** Workflow name, when several workflows have a run with the key. */
  workflow?: string;
  /** Drives what the run waits for from outside (signals, `resume`). */
  onIdle?: IdleHook;
}

/** Options of `ChronoForgeTestHarness.explore`. @publicApi */
export interface ExploreOptions extends Omit<RunToCompletionOptions, 'workflow'> {
  /** Prefix of the run keys (`<prefix>-clean`, `<prefix>-<step>-<phase>`, …). */
  keyPrefix?: string;
  /**
   * Also crash at every durable call of the runs the workflow spawns (its branch children and
   * their descendants), one variant per checkpoint and phase. @default false
   */
  children?: boolean;
  /**
   * What must be equal (`util.isDeepStrictEqual`) between the clean run and every variant.
   * Default {@link defaultOutcome}: state, result and the names of the completed steps. Override it
   * to leave out what legitimately differs between two runs, such as repeat tick times.
   */
  outcome?: (run: WorkflowRunDetail) => unknown;
}

/** One crash variant of `explore`. @publicApi */
export interface ExploreVariant {
  step: string;
  phase: CrashPhase;
  /** Key of the run the crash struck: the variant's root run, or one of its children. */
  crashedKey: string;
  /** Key of the variant's root run. */
  key: string;
  state: string;
  result: unknown;
  /** The projection `outcome` made of the variant's root run. */
  outcome: unknown;
  /** The simulated crash happened (a variant whose crash never fired is not ok). */
  fired: boolean;
  /** Ended like the clean run: the crash fired and the outcomes are equal. */
  ok: boolean;
}

/** Report of `explore`. @publicApi */
export interface ExploreReport {
  clean: { key: string; state: string; result: unknown; steps: string[]; outcome: unknown };
  variants: ExploreVariant[];
  ok: boolean;
}

/** Names of the completed steps of a run (engine markers such as `$workflow_completion$` left out), sorted. @publicApi */
export function completedSteps(run: WorkflowRunDetail): string[] {
  return run.steps
    .filter((s) => s.state === 'completed' && !s.name.startsWith('$'))
    .map((s) => s.name)
    .sort();
}

/** The default `explore` outcome: final state, result and completed step names. @publicApi */
export function defaultOutcome(run: WorkflowRunDetail): unknown {
  return { state: run.state, result: run.result, steps: completedSteps(run) };
}
