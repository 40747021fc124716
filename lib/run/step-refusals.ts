import { DurableCallInStepError } from '../errors/durable-call-in-step.error.js';
import { stepStorage } from './call-storage.js';

/** A pass's refusals of durable calls made inside step bodies (see `RunScope`). */
export abstract class StepRefusals {
  /** Refused durable calls made inside step bodies, by step name: the step fails even if caught. */
  private readonly refusedInStep = new Map<string, DurableCallInStepError>();

  /**
   * Refuses `call` (e.g. `ctx.sleep()`) when made inside a step body, where it would halt the pass
   * and leave the step unrecorded. The refusal is remembered, so the step fails even when its body
   * catches the error.
   */
  refuseInsideStep(call: string): void {
    const step = stepStorage.getStore();
    if (step === undefined) return;
    const err = new DurableCallInStepError(
      `${call} was called inside the body of ${step}. Timers, signal waits, spawns and merges halt or fork the run, which a step body cannot do: call them from the workflow method, between steps.`,
    );
    this.refusedInStep.set(step, err);
    throw err;
  }

  /** The refusal recorded for step `stepName` in this pass, if its body made one (cleared). */
  takeRefusal(stepName: string): DurableCallInStepError | undefined {
    const err = this.refusedInStep.get(stepName);
    this.refusedInStep.delete(stepName);
    return err;
  }
}
