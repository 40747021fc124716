import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { expect } from 'vitest';
import { ChronoForgeHealth, type HealthReport, type WorkflowHandle } from '../../lib/index.js';
import { sql } from '../support/env.js';
import {
  CHAOS_CHILDREN,
  CHAOS_TICKS,
  type ChaosResult,
  MARKER_PREFIX,
  TRANSACTIONAL_STEP,
} from './chaos.fixture.js';

/** A parent run of the chaos suite. */
export interface ChaosRun {
  key: string;
  handle?: WorkflowHandle<ChaosResult>;
}

/**
 * The engine's invariants after a chaos run, read from the runs, their logs and the ledger every
 * step body writes (each list holds the violations).
 */
export async function collectInvariants(
  schema: string,
  runs: ChaosRun[],
  RUNS: number,
  /** Distinct step bodies of the other (limited) runs. */
  extraBodies = 0,
) {
  // (1) Every run reached its expected terminal state with its expected result.
  const lost: string[] = [];
  for (const r of runs) {
    if (!r.handle) {
      lost.push(`${r.key}: never started`);
      continue;
    }
    try {
      const result = await r.handle.result({ timeout: '1ms' });
      const want = {
        key: r.key,
        signal: `go-${r.key}`,
        gamma: `gamma-go-${r.key}`,
        children: CHAOS_CHILDREN,
      };
      if (!isDeepStrictEqual({ ...result }, want))
        lost.push(`${r.key}: result ${JSON.stringify(result)}`);
    } catch (err) {
      lost.push(`${r.key}: ${(err as Error).message}`);
    }
  }
  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  const ledger = `"${schema}".ledger`;
  const lostChildren = await sql<{ key: string; state: string }>(
    `SELECT key, state FROM ${wf} WHERE job_name = 'chaos.child' AND state <> 'completed' ORDER BY key`,
  );
  const childCount = (
    await sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${wf} WHERE job_name = 'chaos.child'`)
  )[0].n;
  for (const c of lostChildren) lost.push(`${c.key}: ${c.state}`);
  // Each parent spawns CHAOS_CHILDREN children and calls one more (ctx.call).
  if (childCount !== RUNS * (CHAOS_CHILDREN + 1))
    lost.push(`${childCount} children instead of ${RUNS * (CHAOS_CHILDREN + 1)}`);

  // (2) No step has two completed logs.
  const duplicates = await sql(
    `SELECT workflow_id, step_name FROM ${logs} WHERE state = 'completed' GROUP BY 1, 2 HAVING count(*) > 1`,
  );

  // (3) No body ran after its step log committed: a body writes its ledger row (in its own
  // transaction) before it returns, so every legitimate row is older than the log's completed_at.
  const afterCommit = await sql<{ key: string; step: string; at: Date; completed_at: Date }>(
    `SELECT l.key, l.step, l.at, e.completed_at FROM ${ledger} l
     JOIN ${wf} w ON w.key = l.key
     JOIN ${logs} e ON e.workflow_id = w.id AND e.step_name = l.step AND e.state = 'completed'
     WHERE l.at > e.completed_at`,
  );
  // Re-executed bodies (crash or lost lock before the log committed): allowed, counted.
  const reexecuted = (
    await sql<{ n: number }>(
      `SELECT COALESCE(sum(n - 1), 0)::int AS n FROM (SELECT count(*) AS n FROM ${ledger}
       WHERE step NOT LIKE '${MARKER_PREFIX}%' GROUP BY key, step) g`,
    )
  )[0].n;
  // A transactional step's ledger row commits with its checkpoint: exactly one row per run.
  const notExactlyOnce = await sql<{ key: string; n: number }>(
    `SELECT key, count(*)::int AS n FROM ${ledger} WHERE step = $1 GROUP BY key HAVING count(*) <> 1`,
    [TRANSACTIONAL_STEP],
  );
  // Sanity of the ledger mapping: every completed body step has a ledger row and vice versa.
  const bodySteps = `(e.step_name LIKE 'step$%' OR e.step_name LIKE 'durably\\_repeat$tick$%')`;
  const missingBodies = await sql(
    `SELECT w.key, e.step_name FROM ${logs} e JOIN ${wf} w ON w.id = e.workflow_id
     WHERE e.state = 'completed' AND ${bodySteps}
       AND NOT EXISTS (SELECT 1 FROM ${ledger} l WHERE l.key = w.key AND l.step = e.step_name)`,
  );
  const orphanBodies = await sql(
    `SELECT l.key, l.step FROM ${ledger} l JOIN ${wf} w ON w.key = l.key
     WHERE l.step NOT LIKE '${MARKER_PREFIX}%'
       AND NOT EXISTS (SELECT 1 FROM ${logs} e WHERE e.workflow_id = w.id AND e.step_name = l.step AND e.state = 'completed')`,
  );
  const expectedBodies = RUNS * (6 + CHAOS_TICKS) + RUNS * (CHAOS_CHILDREN + 1) * 2 + extraBodies;
  const distinctBodies = (
    await sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT DISTINCT key, step FROM ${ledger} WHERE step NOT LIKE '${MARKER_PREFIX}%') d`,
    )
  )[0].n;

  // (4) At most one lock holder at a time. Each ledger row records the lock owner of the pass
  // that ran the body and, read in the same statement, the run's `locked_by` at that instant:
  // (a) they must be equal (no body ran while another pass, or nobody, held the lock), and
  // (b) the time windows of two passes over the same run never overlap (pass = one RunScope,
  // i.e. one acquisition; owner strings alone could repeat when BullMQ retries the same job).
  const notHolder = await sql<{
    key: string;
    step: string;
    owner: string;
    holder: string | null;
  }>(`SELECT key, step, owner, holder FROM ${ledger} WHERE holder IS DISTINCT FROM owner`);
  const overlapping = await sql(
    `WITH p AS (SELECT key, pass, min(at) AS t0, max(at) AS t1 FROM ${ledger} GROUP BY key, pass)
     SELECT a.key, a.pass AS a, b.pass AS b FROM p a JOIN p b ON a.key = b.key AND a.pass < b.pass
     WHERE a.t0 <= b.t1 AND b.t0 <= a.t1`,
  );

  // (5) Drained: no run is left non-terminal with nothing scheduled (no wake time, no lock).
  const stranded = await sql<{ key: string; state: string }>(
    `SELECT key, state FROM ${wf} WHERE state IN ('idle', 'running') AND next_run_at IS NULL AND locked_at IS NULL`,
  );
  const open = await sql<{ state: string; n: number }>(
    `SELECT state, count(*)::int AS n FROM ${wf} WHERE state <> 'completed' GROUP BY state`,
  );
  // (6) Composition: each ctx.call started exactly one child, and a parent completed only after
  // its called child had ended (completed, by the parent's own completion at the latest).
  const badCalls = await sql<{ key: string; calls: number; children: number; ended: boolean }>(
    `SELECT p.key, count(DISTINCT l.id)::int AS calls, count(c.id)::int AS children,
       COALESCE(bool_and(c.state = 'completed' AND c.finished_at <= p.finished_at), false) AS ended
     FROM ${wf} p
     LEFT JOIN ${logs} l ON l.workflow_id = p.id AND l.step_name LIKE 'call$%'
     LEFT JOIN ${wf} c ON c.parent_execution_log_id = l.id
     WHERE p.job_name = 'chaos.parent' AND p.state = 'completed'
     GROUP BY p.key
     HAVING count(DISTINCT l.id) <> 1 OR count(c.id) <> 1
       OR NOT COALESCE(bool_and(c.state = 'completed' AND c.finished_at <= p.finished_at), false)`,
  );
  return {
    badCalls,
    lost,
    childCount,
    duplicates,
    afterCommit,
    reexecuted,
    notExactlyOnce,
    missingBodies,
    orphanBodies,
    expectedBodies,
    distinctBodies,
    notHolder,
    overlapping,
    stranded,
    open,
  };
}

export type ChaosInvariants = Awaited<ReturnType<typeof collectInvariants>>;

/** The engine's invariants as assertions (after {@link printChaosReport}). */
export function assertChaosInvariants(inv: ChaosInvariants): void {
  expect(inv.lost, 'lost runs').toEqual([]);
  expect(inv.duplicates, 'duplicate completed logs').toEqual([]);
  expect(inv.badCalls, 'ctx.call: one child per call, ended before its parent').toEqual([]);
  expect(inv.afterCommit, 'bodies re-run after their log committed').toEqual([]);
  expect(inv.notExactlyOnce, 'transactional steps not exactly once').toEqual([]);
  expect(inv.missingBodies, 'completed steps whose body never ran').toEqual([]);
  expect(inv.orphanBodies, 'bodies whose step never completed').toEqual([]);
  expect(inv.distinctBodies).toBe(inv.expectedBodies);
  expect(inv.notHolder, 'bodies run without holding the lock').toEqual([]);
  expect(inv.overlapping, 'overlapping passes').toEqual([]);
  expect(inv.stranded, 'stranded runs').toEqual([]);
  expect(inv.open, 'non-terminal runs').toEqual([]);
}

/** Prints the one-line summary and, when something broke, the violations, timeline and worker logs. */
export function printChaosReport(
  inv: ChaosInvariants,
  o: {
    header: string;
    footer: string;
    logDir: string;
    events: string[];
    unexpectedExits: string[];
  },
): void {
  const { lost, afterCommit, reexecuted, duplicates, notExactlyOnce, notHolder, overlapping } = inv;
  const { stranded, missingBodies, orphanBodies, open } = inv;
  const { logDir, events, unexpectedExits } = o;
  const summary =
    `${o.header} ` +
    `reexecuted_bodies=${reexecuted} bodies_rerun_after_commit=${afterCommit.length} ` +
    `duplicate_completed_logs=${duplicates.length} transactional_not_exactly_once=${notExactlyOnce.length} ` +
    `lost_runs=${lost.length} ` +
    `lock_violations=${notHolder.length + overlapping.length} stranded=${stranded.length} ` +
    o.footer;
  console.log(summary);
  if (
    lost.length ||
    afterCommit.length ||
    notExactlyOnce.length ||
    notHolder.length ||
    overlapping.length ||
    missingBodies.length ||
    orphanBodies.length
  ) {
    console.log(
      JSON.stringify(
        {
          lost: lost.slice(0, 20),
          open,
          afterCommit: afterCommit.slice(0, 10),
          notExactlyOnce: notExactlyOnce.slice(0, 10),
          notHolder: notHolder.slice(0, 10),
          overlapping: overlapping.slice(0, 10),
          missingBodies: missingBodies.slice(0, 10),
          orphanBodies: orphanBodies.slice(0, 10),
          logs: logDir,
        },
        null,
        2,
      ),
    );
    if (!process.env.CHAOS_VERBOSE) console.log(events.join('\n'));
  }
  if (unexpectedExits.length) {
    console.log(unexpectedExits.join('\n'));
    for (const e of unexpectedExits.slice(0, 2)) {
      const file = e.split('log ').at(-1)!;
      console.log(readFileSync(file, 'utf8').split('\n').slice(-30).join('\n'));
    }
  }
}

/**
 * The driver's `ChronoForgeHealth` report once the runs drained: up again after the restarts
 * (connections recovered) and no run left due. Polled for 30 s (the first query on a pool connection
 * that a PostgreSQL restart killed may fail); the last report when it stays down.
 */
export async function healthAfterDrain(
  app: INestApplicationContext | undefined,
): Promise<HealthReport> {
  if (!app) throw new Error('healthAfterDrain: the driver app did not boot');
  const health = app.get(ChronoForgeHealth);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await health.check({ sweeperLagThreshold: '30s', timeout: '5s' });
    if (report.status === 'up' || Date.now() > deadline) return report;
    await new Promise((r) => setTimeout(r, 250));
  }
}
