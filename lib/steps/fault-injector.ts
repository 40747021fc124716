import { Injectable } from '@nestjs/common';
import type { RunScope } from '../run/run-scope.js';

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

/** A `@Repeat` tick's step name: `<coordination step>$<scheduled epoch ms>`. */
const TICK = /^(durably_repeat\$[^$]+)\$(-?\d+)$/;

/**
 * The crash target of the `n`-th (1-based) tick of repeat `coordName` (`durably_repeat$<name>`):
 * `<coordName>$tick<n>`. A tick's own step name holds its scheduled time, which differs between two
 * runs of the same workflow, so crash targets name ticks by their position instead.
 */
export function tickTarget(coordName: string, n: number): string {
  return `${coordName}$tick${n}`;
}

/** The coordination step and scheduled time of a tick's step name, or `undefined`. */
export function parseTick(stepName: string): { coordName: string; at: number } | undefined {
  const m = TICK.exec(stepName);
  return m ? { coordName: m[1], at: Number(m[2]) } : undefined;
}

/** Crash target of a spawn (`ctx.spawn` / `spawnEach`) named `spawn` in branch `branch`. */
export function spawnTarget(branch: string, spawn: string): string {
  return `spawn$${branch}$${spawn}`;
}

/** Injectors with a crash armed; empty (and the check free) outside crash tests. */
const armedInjectors = new Set<FaultInjector>();

/**
 * Whether a crash test armed a {@link FaultInjector} in this process. Passes then complete due
 * sleeps in their replay (a checkpoint the crash can strike), not in the acquire: the states a
 * crash leaves are the same either way (before: nothing written; after: the sleep completed).
 */
export function crashesArmed(): boolean {
  return armedInjectors.size > 0;
}

/**
 * A crash point of a durable call, `phase` its checkpoint (the write that records it): what the
 * engine calls at every step, timer, signal, spawn, branch seal, merge and repeat tick. Crashes the
 * pass when a {@link FaultInjector} is armed for this run and checkpoint; once a pass crashed, every
 * later crash point of it crashes again (user code that swallowed the crash cannot go on writing).
 */
export function crashPoint(scope: RunScope, stepName: string, phase: CrashPhase): void {
  if (scope.crashed) throw new SimulatedCrash(stepName, phase);
  if (armedInjectors.size === 0) return;
  for (const injector of armedInjectors) {
    try {
      injector.checkpoint(scope.run.key, stepName, phase);
    } catch (err) {
      scope.crashed = true;
      throw err;
    }
  }
}

/**
 * A seam for crash testing (the testing kit's `explore`). By default it does nothing; the testing
 * kit arms it to crash one run at one checkpoint of a durable call.
 */
@Injectable()
export class FaultInjector {
  private armed: { runKey: string; stepName: string; phase: CrashPhase } | undefined;
  /** Tick step names of the armed run seen at a checkpoint, by repeat, in order. */
  private readonly ticks = new Map<string, string[]>();
  /** Keys of runs whose pass was crashed and not yet recovered. */
  readonly crashed = new Set<string>();

  /**
   * Crash run `runKey` once, `phase` the checkpoint of `stepName`: a step name, a
   * {@link tickTarget} or a {@link spawnTarget}.
   */
  arm(runKey: string, stepName: string, phase: CrashPhase): void {
    this.armed = { runKey, stepName, phase };
    this.ticks.clear();
    armedInjectors.add(this);
  }

  /** Drops the armed crash, if it has not happened. */
  disarm(): void {
    this.armed = undefined;
    armedInjectors.delete(this);
  }

  /** Whether the armed crash already happened (or none was armed). */
  get fired(): boolean {
    return this.armed === undefined;
  }

  /** Called by the engine around every checkpoint of a durable call. */
  checkpoint(runKey: string, stepName: string, phase: CrashPhase): void {
    const a = this.armed;
    if (!a || a.runKey !== runKey) return;
    if (this.targetOf(stepName) === a.stepName && a.phase === phase) {
      this.disarm();
      this.crashed.add(runKey);
      throw new SimulatedCrash(stepName, phase);
    }
  }

  /** The crash target a checkpoint matches: the step name, or the tick's position. */
  private targetOf(stepName: string): string {
    const tick = parseTick(stepName);
    if (!tick) return stepName;
    const seen = this.ticks.get(tick.coordName) ?? [];
    if (!seen.includes(stepName)) seen.push(stepName);
    this.ticks.set(tick.coordName, seen);
    return tickTarget(tick.coordName, seen.indexOf(stepName) + 1);
  }
}
