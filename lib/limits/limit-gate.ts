import { Injectable } from '@nestjs/common';
import { ChronoForgeMetrics } from '../observability/chrono-forge-metrics.js';
import { type LimitClaim, limitKey, stepClaims, toStepLimits } from '../options/limit-options.js';
import type { StepLimitOption } from '../options/limit-options.interface.js';
import type { RunScope } from '../run/run-scope.js';
import { type LimitAcquireResult, LimitStore } from './limit.store.js';
import { SINGLETON_HOLDER } from './limit.sql.js';

/** Holder of a run-level slot (held for one pass). */
export const RUN_HOLDER = '$run';
/** How long before a rate window opens a parked run is woken, and waits in its pass instead. */
export const RATE_WAKE_LEAD_MS = 200;
/**
 * How many late rate grants one step attempt gives up and asks again for; the body starts after
 * the last one, late or not (the process keeps stalling, or the window's guard is shorter than a
 * round trip to the database).
 */
export const MAX_LATE_GRANTS = 3;
/** Log recording that the run was admitted by its run-level rate limit (once per run). */
export const RATE_ADMITTED_LOG = '$limit$rate';
/** Log recording that the run took its singleton slot (`mode: 'queue'`; held for its life). */
export const SINGLETON_ADMITTED_LOG = '$limit$singleton';

/**
 * Where the engine asks the limits: before a limited step's body (`admitStep`) and before a pass
 * runs the workflow method (`admitRun`). Admitted: returns. Refused: the pass halts (`scope.halt`)
 * with the wake time of a rate limit, or none (a release wakes the run), and the run parks idle.
 * A refusal is not an attempt: nothing is recorded for the step, no retry budget is spent.
 */
@Injectable()
export class LimitGate {
  /** Passes whose run is flagged `limited` already (by their first acquire). */
  private readonly flagged = new WeakSet<RunScope>();

  constructor(
    private readonly store: LimitStore,
    private readonly metrics: ChronoForgeMetrics,
  ) {}

  /** Runs the workflow method for a pass, once the run-level limits admitted the pass. */
  async invoke(scope: RunScope): Promise<unknown> {
    const { definition, run } = scope;
    // Tracked like a durable call: a failed statement ends the pass as an engine fault.
    if (definition.limits)
      await scope.track(() => this.admitRun(scope, definition.toInput(run.input)));
    return definition.invoke(run.input);
  }

  /**
   * Admits one attempt of step `stepName` by its `limit` option (keys already computed, or none).
   * Returns what to call right before the body starts: with a rate grant that the body could not
   * use within the window's guard (the process stalled: CPU starved, GC), it moves the grant to
   * that moment if the windows have room, or else asks again (up to {@link MAX_LATE_GRANTS} times).
   */
  async admitStep(
    scope: RunScope,
    stepName: string,
    option: StepLimitOption,
  ): Promise<() => Promise<void> | undefined> {
    const claims = stepClaims(toStepLimits(option, `step "${stepName}"`), []);
    let got = await this.admit(scope, stepName, claims);
    const late = () =>
      got.grantedAt !== null && got.startBy !== null && performance.now() > got.startBy;
    return () => {
      if (!late()) return undefined;
      return (async () => {
        // NOTE: a late grant moves to now only if every window has room for it counted from now;
        // if not it is given back and the step asks again. An unconditional move (before) could
        // land in a window the grants made since had filled, or find the grant pushed out of the
        // key's recent grants and do nothing (found by the limits acceptance at load 14: a worker
        // stalled > 1 s between grant and body, 4 bodies in one second). Asking again every time
        // instead costs the rate under load (2.1/s of 3/s at load 13: most grants are late there).
        // NOTE: bounded: a window whose guard is shorter than the grant's round trip (a window under
        // 10 ms has none) makes every grant late; asking on would never start the body.
        for (let asked = 0; late() && asked < MAX_LATE_GRANTS; asked++) {
          this.metrics.limitLateGrants.inc({ limit: claims[0].name });
          if (got.grantedAt !== null && (await this.store.restamp(claims, got.grantedAt))) return;
          // The step's slots go too: the acquire grants no rate on a slot held already (a limit
          // with a concurrency and a rate: the late grant was used as it was).
          if ((await this.store.release(scope.run.id, scope.owner, [stepName])) === null)
            scope.lockLost();
          got = await this.admit(scope, stepName, claims);
        }
      })();
    };
  }

  /**
   * Admits the pass by the workflow's run-level limits: its concurrency slot (every pass) and its
   * rate (once: the admission is recorded in the `$limit$rate` log). `input` is the validated input.
   */
  async admitRun(scope: RunScope, input: unknown): Promise<void> {
    const limits = scope.definition.limits;
    if (!limits) return;
    const single = limits.singleton;
    if (single && !scope.logs.has(SINGLETON_ADMITTED_LOG)) {
      const claim = { name: single.name, key: limitKey(single.key, [input], 'the singleton') };
      await this.admit(scope, SINGLETON_HOLDER, [claim], SINGLETON_ADMITTED_LOG);
    }
    const claims: LimitClaim[] = [];
    for (const limit of [limits.concurrency, limits.rate]) {
      if (!limit || (limit === limits.rate && scope.logs.has(RATE_ADMITTED_LOG))) continue;
      claims.push({ name: limit.name, key: limitKey(limit.key, [input], `limit "${limit.name}"`) });
    }
    if (claims.length === 0) return;
    const rate = limits.rate && claims.some((c) => c.name === limits.rate?.name);
    await this.admit(scope, RUN_HOLDER, claims, rate ? RATE_ADMITTED_LOG : undefined);
  }

  private async admit(
    scope: RunScope,
    holder: string,
    claims: LimitClaim[],
    admittedLog?: string,
  ): Promise<Extract<LimitAcquireResult, { kind: 'admitted' }>> {
    const request = { runId: scope.run.id, holder, owner: scope.owner, claims, admittedLog };
    for (let tries = 1; ; tries++) {
      scope.assertCanWork();
      const got = await this.store.acquire({ ...request, flagged: this.flagged.has(scope) });
      if (got.kind === 'lost') scope.lockLost();
      this.flagged.add(scope);
      if (got.kind === 'admitted') {
        for (const c of claims)
          this.metrics.limitWait.observe({ limit: c.name }, got.waitedMs / 1000);
        return got;
      }
      const wakeAt = got.wakeAt?.getTime() ?? null;
      const wait = wakeAt === null ? Infinity : wakeAt - scope.now();
      // NOTE: a rate window opening within RATE_WAKE_LEAD_MS is waited for in the pass: a parked run
      // comes back through the queue, which is late by up to about as much. So a parked run is also
      // woken that much early, and waits the rest here.
      if (wait > RATE_WAKE_LEAD_MS || tries === 3) {
        this.metrics.limitRefusals.inc({ limit: got.limit });
        scope.halt(wakeAt === null ? null : wakeAt - RATE_WAKE_LEAD_MS);
      }
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
  }
}
