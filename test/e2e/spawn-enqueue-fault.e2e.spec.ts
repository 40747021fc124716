import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { defaultQueueSchema } from '../../lib/options/resolve-options.js';
import { SpawnFaultProbe, spawnFaultProviders } from '../fixtures/spawn-enqueue-fault.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

/**
 * A spawn stores its children (and its cursor) in one fenced statement, then enqueues them. When
 * the enqueue fails, the children exist all the same: the failure is the engine's (like a failed
 * checkpoint), not the spawn's outcome. The pass ends with `EngineFaultError` whatever the
 * workflow catches — its fallback spawn is refused — and a later pass enqueues the stored
 * children. The fault is injected at the database: the suite runs BullMQ's PostgreSQL queue, whose
 * job table gets a trigger failing the nth enqueue of one parent's children, once.
 */
describe('a failed enqueue of spawned children (e2e, PostgreSQL queue)', () => {
  const schema = uniqueName('cf_spawnq');
  const queueName = uniqueName('q_spawnq');
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: SpawnFaultProbe;

  beforeAll(async () => {
    app = await bootApp({
      schema,
      queueName,
      providers: spawnFaultProviders,
      options: { queue: { postgres: true } },
    });
    client = app.get(WorkflowClient);
    probe = app.get(SpawnFaultProbe);
    // A sequence counts the enqueues: unlike a table, it is not rolled back with the failed one.
    await sql(`CREATE TABLE "${schema}".faults (parent_key text PRIMARY KEY, nth int NOT NULL,
      seq text NOT NULL)`);
    await sql(`CREATE FUNCTION "${schema}".fail_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE f record;
      BEGIN
        SELECT fa.* INTO f FROM "${schema}".faults fa JOIN ${wf} w
            ON starts_with(w.key, fa.parent_key || '$')
         WHERE w.id = (NEW.data->>'workflowId')::bigint;
        IF FOUND AND nextval(f.seq::regclass) = f.nth THEN
          RAISE EXCEPTION 'injected enqueue fault' USING ERRCODE = '57014';
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER fail_enqueue BEFORE INSERT ON "${defaultQueueSchema(schema)}".job
      FOR EACH ROW WHEN (NEW.data ? 'workflowId') EXECUTE FUNCTION "${schema}".fail_enqueue()`);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  async function injectOnce(parentKey: string, nth: number): Promise<void> {
    const seq = `"${schema}"."enq_${parentKey.replace(/-/g, '_')}"`;
    await sql(`CREATE SEQUENCE ${seq}`);
    await sql(`INSERT INTO "${schema}".faults VALUES ($1, $2, $3)`, [parentKey, nth, seq]);
  }

  async function childKeys(parentKey: string): Promise<string[]> {
    const rows = await sql<{ key: string; state: string }>(
      `SELECT key, state FROM ${wf} WHERE starts_with(key, $1) ORDER BY key`,
      [`${parentKey}$`],
    );
    expect(rows.every((r) => r.state === 'completed')).toBe(true);
    return rows.map((r) => r.key.slice(r.key.lastIndexOf('$') + 1));
  }

  it.each([
    ['spawn', 'spawnfault.one', 1, ['kid']],
    ['spawnEach (second batch)', 'spawnfault.each', 3, ['kid_0', 'kid_1', 'kid_2', 'kid_3']],
  ])(
    'should end the pass when the enqueue of %s fails, so a catch cannot go on',
    async (_label, workflow, nth, kids) => {
      const key = `p-${workflow.replace('.', '-')}`;
      await injectOnce(key, nth);
      const handle = await client.start(workflow, { key });
      await expect(handle.result({ timeout: '20s' })).resolves.toBe('merged');
      // The catch saw the engine's fault (once), and its fallback spawn was refused.
      expect(probe.caught.get(key)?.map((e) => e.split(':')[0])).toEqual(['EngineFaultError']);
      expect(await childKeys(key)).toEqual(kids);
    },
  );
});
