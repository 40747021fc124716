import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { PoolFaultProbe, poolFaultProviders } from '../fixtures/pool-connect-fault.fixture.js';
import { bootApp } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';
import { limitedRole } from '../support/limited-role.js';

/**
 * A step's checkpoint takes a pooled connection before it writes. When PostgreSQL refuses a new
 * connection (53300: `max_connections` or the role's limit reached by other clients), that is an
 * infrastructure fault like a failed statement: the pass ends with EngineFaultError and a later
 * pass runs the step again. It reached the workflow as an ordinary error, so a catch-all went on
 * without the step (found by the fuzz suite on a busy shared server). The fault is real: the app
 * connects as a role with a connection limit; while the step body runs, the test closes the
 * pool's connections and takes the role's free slots, then lets the body return.
 */
describe('a refused connection at a checkpoint (e2e)', () => {
  const schema = uniqueName('cf_poolf');
  const queueName = uniqueName('q_poolf');
  // NOTE: the limit fits the PostgreSQL queue's merge and maintenance pools too.
  const role = limitedRole(30);
  let app: INestApplicationContext;
  let client: WorkflowClient;
  let probe: PoolFaultProbe;

  beforeAll(async () => {
    await role.create(schema);
    app = await bootApp({
      schema,
      queueName,
      providers: poolFaultProviders,
      options: { database: { url: role.url, schema, poolSize: 2 } },
    });
    client = app.get(WorkflowClient);
    probe = app.get(PoolFaultProbe);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
    await role.drop();
  });

  it('should end the pass and run the step again, whatever the workflow catches', async () => {
    const key = 'refused';
    const handle = await client.start('poolfault.catchAll', { key });
    await probe.entered;
    const held = await role.starvePool();
    probe.open();
    await new Promise((r) => setTimeout(r, 500));
    await Promise.all(held.map((c) => c.end()));
    await expect(handle.result({ timeout: '15s' })).resolves.toEqual({
      charged: `charged ${key}`,
      caught: null,
    });
    expect(probe.bodies).toBe(2);
  });
});
