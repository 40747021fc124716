import type { INestApplication } from '@nestjs/common';
import type { QueryResultRow } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsStore } from '../../lib/inspection/analytics.store.js';
import { RunListStore } from '../../lib/inspection/run-list.store.js';
import { WorkflowGraphs } from '../../lib/dashboard/data/workflow-graphs.js';
import { cleanup, sql, uniqueName } from '../support/env.js';
import { bootDashboardApp } from './dashboard.fixture.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Rows a plan read and threw away, over all its nodes. */
function removed(node: PlanNode): number {
  const own = node['Rows Removed by Filter'] ?? 0;
  return own + (node.Plans ?? []).reduce((a, p) => a + removed(p), 0);
}

/** Every `Seq Scan` of a plan, by table. */
function seqScans(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' ? [node['Relation Name'] ?? '?'] : [];
  return [...own, ...(node.Plans ?? []).flatMap(seqScans)];
}

/**
 * Review of the analytics page (issue 24 item 2) on a large table: 120 000 runs and 240 000 step
 * logs, 20 000 runs idle, must not make "Waiting now" scan the step logs whole.
 */
describe('dashboard analytics plans on 120k runs (e2e)', () => {
  const schema = uniqueName('cf_dplan');
  const queueName = uniqueName('q_dplan');
  let app: INestApplication;

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName);
    const s = `"${schema}"`;
    // 120 000 runs, one in six idle and due tomorrow (the worker leaves them alone); two step
    // logs each, pending for the idle runs.
    await sql(`INSERT INTO ${s}.chrono_forge_workflows (key, job_name, state, max_duration_ms, next_run_at, finished_at)
      SELECT 'k-' || g, 'plan.' || (g % 10), CASE WHEN g % 6 = 0 THEN 'idle' ELSE 'completed' END,
        60000, CASE WHEN g % 6 = 0 THEN now() + interval '1 day' END,
        CASE WHEN g % 6 <> 0 THEN now() - interval '2 days' END
      FROM generate_series(1, 120000) g`);
    await sql(`INSERT INTO ${s}.chrono_forge_execution_logs (workflow_id, step_name, state)
      SELECT id, n, CASE WHEN n = 'step$a' OR state <> 'idle' THEN 'completed' ELSE 'pending' END
      FROM ${s}.chrono_forge_workflows,
        unnest(ARRAY['step$a', CASE id % 3 WHEN 0 THEN 'signal$go' WHEN 1 THEN 'wait$nap' ELSE 'child$kid' END]) n`);
    // A busy workflow none of whose runs completed (the definition graph's sample is its newest).
    await sql(`INSERT INTO ${s}.chrono_forge_workflows (key, job_name, state, max_duration_ms)
      SELECT 'f-' || g, 'plan.failing', 'failed', 60000 FROM generate_series(1, 12000) g`);
    await sql(`ANALYZE ${s}.chrono_forge_workflows`);
    await sql(`ANALYZE ${s}.chrono_forge_execution_logs`);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should count waiting runs per reason without scanning the step logs or runs whole', async () => {
    const runs = app.get(RunListStore, { strict: false });
    const seen: { text: string; values: unknown[] }[] = [];
    const query = runs.query.bind(runs);
    runs.query = (<R extends QueryResultRow>(text: string, values: unknown[] = []) => {
      seen.push({ text, values });
      return query<R>(text, values);
    }) as typeof runs.query;
    const rows = await app.get(AnalyticsStore, { strict: false }).waiting();
    runs.query = query;
    const reasons = (r: string) => rows.filter((x) => x.reason === r).reduce((a, x) => a + x.n, 0);
    expect(reasons('signal') + reasons('timer')).toBe(20000);
    expect(reasons('signal')).toBeGreaterThan(6000);
    expect(reasons('children')).toBe(0); // due tomorrow: the timer rule comes first
    expect(seen).toHaveLength(1);
    const [{ 'QUERY PLAN': plan }] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      `EXPLAIN (FORMAT JSON) ${seen[0].text}`,
      seen[0].values,
    );
    const scans = seqScans(plan[0].Plan);
    expect(scans).not.toContain('chrono_forge_execution_logs');
    expect(scans).not.toContain('chrono_forge_workflows');
  });

  it('should find the sample run of a definition graph without walking the runs table', async () => {
    const runs = app.get(RunListStore, { strict: false });
    const seen: { text: string; values: unknown[] }[] = [];
    const query = runs.query.bind(runs);
    runs.query = (<R extends QueryResultRow>(text: string, values: unknown[] = []) => {
      seen.push({ text, values });
      return query<R>(text, values);
    }) as typeof runs.query;
    const graph = await app.get(WorkflowGraphs, { strict: false }).graph('plan.failing');
    runs.query = query;
    expect(graph.sample?.key).toBe('f-12000');
    const picks = seen.filter((q) => q.text.includes('job_name = $1'));
    expect(picks).toHaveLength(1);
    const [{ 'QUERY PLAN': plan }] = await sql<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${picks[0].text}`,
      picks[0].values,
    );
    expect(removed(plan[0].Plan)).toBeLessThan(100);
  });
});
