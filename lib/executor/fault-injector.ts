import { Injectable } from '@nestjs/common';

/** Where a simulated crash strikes, relative to a step's checkpoint (its log write). */
export type CrashPhase = 'before' | 'after';

/**
 * Thrown by an armed {@link FaultInjector}: the pass stops as if the process died, leaving its lock
 * held and nothing else written.
 */
export class SimulatedCrash extends Error {
  constructor(
    readonly stepName: string,
    readonly phase: CrashPhase,
  ) {
    super(`Simulated crash ${phase} the checkpoint of ${stepName}`);
    this.name = 'SimulatedCrash';
  }
}

/**
 * A seam for crash testing (the testing kit's `explore`). By default it does nothing; the testing
 * kit arms it to crash one run at one step boundary.
 */
@Injectable()
export class FaultInjector {
  private armed: { runKey: string; stepName: string; phase: CrashPhase } | undefined;
  /** Keys of runs whose pass was crashed and not yet recovered. */
  readonly crashed = new Set<string>();

  /** Crash run `runKey` once, `phase` the checkpoint of `stepName`. */
  arm(runKey: string, stepName: string, phase: CrashPhase): void {
    this.armed = { runKey, stepName, phase };
  }

  /** Whether the armed crash already happened (or none was armed). */
  get fired(): boolean {
    return this.armed === undefined;
  }

  /** Called by the engine around every step checkpoint. */
  checkpoint(runKey: string, stepName: string, phase: CrashPhase): void {
    const a = this.armed;
    if (a && a.runKey === runKey && a.stepName === stepName && a.phase === phase) {
      this.armed = undefined;
      this.crashed.add(runKey);
      throw new SimulatedCrash(stepName, phase);
    }
  }
}
