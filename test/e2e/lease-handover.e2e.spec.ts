import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeMetrics, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, uniqueName } from '../support/env.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Six 300 ms steps: 1.8 s of work under a 1 s maxDuration. */
@Injectable()
class LeaseWorkflows {
  readonly bodies: string[] = [];

  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('lease.long', { maxDuration: '1s' })
  async long(): Promise<number> {
    let done = 0;
    for (let i = 0; i < 6; i++) {
      done += await this.ctx.step(`s${i}`, async () => {
        this.bodies.push(`s${i}`);
        await pause(300);
        return 1;
      });
    }
    return done;
  }
}

/**
 * A pass whose work outlasts the run's maxDuration used to go on starting step bodies after its
 * lock went stale, while the recovery sweeper handed the run to a second pass that started the
 * same bodies. A pass now stops starting new work shortly before its lock goes stale and hands
 * the run over itself (halts, due now).
 */
describe('a pass close to its lock going stale (e2e)', () => {
  const schema = uniqueName('cf_lease');
  const queueName = uniqueName('q_lease');
  let app: INestApplicationContext;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: [LeaseWorkflows] });
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should hand the run over before its lock goes stale, so no body starts twice', async () => {
    const handle = await app.get(WorkflowClient).start('lease.long', { key: 'l1', input: null });
    await expect(handle.result({ timeout: '20s' })).resolves.toBe(6);
    expect(app.get(LeaseWorkflows).bodies).toEqual(['s0', 's1', 's2', 's3', 's4', 's5']);
    const { values } = await app.get(ChronoForgeMetrics).passes.get();
    const passes = (outcome: string) =>
      values
        .filter((v) => v.labels.workflow === 'lease.long' && v.labels.outcome === outcome)
        .reduce((sum, v) => sum + v.value, 0);
    expect(passes('lock_lost')).toBe(0);
    expect(passes('halted')).toBeGreaterThanOrEqual(1);
  });
});
