import type { WorkflowClient, WorkflowHandle } from '../../lib/index.js';
import { sql } from '../support/env.js';
import { maxInWindow, peakOverlap } from '../support/limit-windows.js';
import {
  CHAOS_CONC_SLOTS,
  CHAOS_HOLD_MS,
  CHAOS_LIMIT_KEYS,
  CHAOS_RATE_LIMIT,
  CHAOS_RATE_WINDOW_MS,
  ChaosLimitLedger,
} from './limits.fixture.js';

/** A `chaos.limited` run of the chaos suite. */
export interface LimitedRun {
  key: string;
  lkey: string;
  startAt: number;
  /** When `client.start` returned. */
  startedAt?: number;
  handle?: WorkflowHandle<string>;
}

/** A SIGKILL of the chaos driver: the worker's pid and when. */
export interface Kill {
  pid: number;
  at: number;
}

interface Body {
  lim: string;
  lkey: string;
  run: string;
  pid: number;
  started_ms: string;
  ended_ms: string | null;
}

/** Limited runs started at once on one key: more than its slots, so they wait for each other. */
export const LIMITED_BURST = 6;

/**
 * `count` limited runs in bursts of {@link LIMITED_BURST} on one key (keys round robin), the bursts
 * spread over `[t0, t0 + spanMs)`: each key's slots are contended, and a SIGKILL is likely to hit a
 * worker holding slots that others wait for.
 */
export function planLimitedRuns(count: number, t0: number, spanMs: number): LimitedRun[] {
  const bursts = Math.ceil(count / LIMITED_BURST);
  return Array.from({ length: count }, (_, i) => {
    const burst = Math.floor(i / LIMITED_BURST);
    return {
      key: `limited-${i}`,
      lkey: `k${burst % CHAOS_LIMIT_KEYS}`,
      startAt: t0 + Math.floor((burst / bursts) * spanMs),
    };
  });
}

/** Starts the due runs (an outage: the next round retries; start is idempotent by key). */
export async function startDueLimited(client: WorkflowClient, runs: LimitedRun[]): Promise<void> {
  const now = Date.now();
  await Promise.all(
    runs
      .filter((r) => !r.handle && r.startAt <= now)
      .map(async (r) => {
        try {
          r.handle = await client.start<string>('chaos.limited', {
            key: r.key,
            input: { key: r.lkey },
          });
          r.startedAt ??= Date.now();
        } catch {
          // retried next round
        }
      }),
  );
}

/**
 * The limits as invariants of the chaos run, from the bodies' own start/end rows:
 * - every limited run completed with its result;
 * - `chaos.conc`: never more than its slots of bodies of one key at once (a body whose worker was
 *   killed, or whose end could not be written, counts until it would have ended);
 * - `chaos.rate`: never more than its limit of body starts of one key within any window;
 * - a SIGKILLed worker's slots are freed within `deadAfter` + one sweep: for each kill while the
 *   worker held a `chaos.conc` slot of a key that had a waiter (a run started before the kill whose
 *   body started after it), the key's next body starts within that bound (plus `slackMs` for the
 *   wake-up, takeover and replay), extended by the PostgreSQL and Redis outages within it
 *   (`outageExtended` counts those kills).
 */
export async function collectLimitInvariants(
  schema: string,
  runs: LimitedRun[],
  o: {
    kills: Kill[];
    outages: Array<[number, number | undefined]>;
    deadAfterMs: number;
    sweepMs: number;
    slackMs: number;
  },
) {
  const lostLimited: string[] = [];
  for (const r of runs) {
    try {
      if (!r.handle) throw new Error('never started');
      const result = await r.handle.result({ timeout: '1ms' });
      if (result !== `limited-${r.key}`) lostLimited.push(`${r.key}: result ${result}`);
    } catch (err) {
      lostLimited.push(`${r.key}: ${(err as Error).message}`);
    }
  }
  const bodies = await sql<Body>(
    `SELECT lim, lkey, run, pid, started_ms, ended_ms FROM ${ChaosLimitLedger.table(schema)} ORDER BY id`,
  );
  const end = (b: Body) =>
    b.ended_ms === null ? Number(b.started_ms) + CHAOS_HOLD_MS : Number(b.ended_ms);
  const keys = [...new Set(bodies.map((b) => b.lkey))].sort();
  const conc = (k: string) => bodies.filter((b) => b.lim === 'conc' && b.lkey === k);
  const concPeaks = Object.fromEntries(
    keys.map((k) => [
      k,
      peakOverlap(conc(k).map((b) => ({ from: Number(b.started_ms), to: end(b) }))),
    ]),
  );
  const concViolations = Object.entries(concPeaks)
    .filter(([, peak]) => peak > CHAOS_CONC_SLOTS)
    .map(([k, peak]) => `key ${k}: ${peak} chaos.conc bodies at once (limit ${CHAOS_CONC_SLOTS})`);
  const rateViolations = keys.flatMap((k) => {
    const starts = bodies
      .filter((b) => b.lim === 'rate' && b.lkey === k)
      .map((b) => Number(b.started_ms));
    const most = maxInWindow(starts, CHAOS_RATE_WINDOW_MS);
    return most > CHAOS_RATE_LIMIT
      ? [
          `key ${k}: ${most} chaos.rate starts within ${CHAOS_RATE_WINDOW_MS} ms (limit ${CHAOS_RATE_LIMIT})`,
        ]
      : [];
  });

  const bound = o.deadAfterMs + o.sweepMs + o.slackMs;
  const freedAfterMs: number[] = [];
  const freeViolations: string[] = [];
  let outageExtended = 0;
  const startedAt = new Map(runs.map((r) => [r.key, r.startedAt ?? Infinity]));
  for (const kill of o.kills) {
    const held = bodies.filter(
      (b) =>
        b.lim === 'conc' &&
        b.pid === kill.pid &&
        Number(b.started_ms) <= kill.at &&
        end(b) > kill.at,
    );
    for (const k of new Set(held.map((b) => b.lkey))) {
      const later = conc(k).filter((b) => Number(b.started_ms) > kill.at);
      const waited = later.some((b) => (startedAt.get(b.run) ?? Infinity) < kill.at);
      if (!waited) continue;
      // An outage within the bound delays everything by its length: the bound grows by it.
      const outageMs = o.outages
        .map(([from, to]) => Math.min(to ?? Date.now(), kill.at + bound) - Math.max(from, kill.at))
        .filter((ms) => ms > 0)
        .reduce((a, b) => a + b, 0);
      if (outageMs > 0) outageExtended++;
      const next = Math.min(...later.map((b) => Number(b.started_ms))) - kill.at;
      freedAfterMs.push(next);
      if (next > bound + outageMs)
        freeViolations.push(
          `key ${k}: next chaos.conc body ${next} ms after the SIGKILL of pid ${kill.pid} (bound ${bound} + ${outageMs} ms of outages)`,
        );
    }
  }
  return {
    lostLimited,
    concPeaks,
    concViolations,
    rateViolations,
    freedAfterMs,
    freeViolations,
    outageExtended,
  };
}
