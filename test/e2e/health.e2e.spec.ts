import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ChronoForgeHealth, type HealthReport, Workflow } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, eventually, QUEUE_BACKEND, uniqueName } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

@Injectable()
class Pings {
  @Workflow('health.ping')
  async ping(input: { n: number }): Promise<number> {
    return input.n + 1;
  }
}

describe(`ChronoForgeHealth (e2e, ${QUEUE_BACKEND} queue)`, () => {
  describe('in a worker process', () => {
    const suite = suiteApp('health_w', [Pings]);

    it('should report every check up, with this worker heartbeat, once runs are served', async () => {
      const handle = await suite.client.start('health.ping', { key: 'up', input: { n: 1 } });
      expect(await handle.result({ timeout: '60s' })).toBe(2);
      const health = suite.app.get(ChronoForgeHealth);
      // The heartbeat is written at bootstrap; a loaded machine may still be on its way.
      const report = await eventually(async () => {
        const r = await health.check({ timeout: '30s' });
        return r.status === 'up' ? r : undefined;
      }, 60_000);
      expect(report.checks.database.status).toBe('up');
      expect(report.checks.queue).toMatchObject({ status: 'up', backend: QUEUE_BACKEND });
      expect(report.checks.sweeper).toMatchObject({ status: 'up', dueRuns: 0, lagMs: 0 });
      expect(report.checks.heartbeat).toMatchObject({ status: 'up', deadAfterMs: 30_000 });
      expect(report.checks.heartbeat?.ageMs).toBeLessThan(30_000);
      expect(report.checks.heartbeat?.workerId).toMatch(/:/);
    });

    it('should reject invalid options with InvalidOptionsError', async () => {
      const health = suite.app.get(ChronoForgeHealth);
      await expect(
        health.check({ sweeperLagThreshold: 'later' as unknown as number }),
      ).rejects.toThrow(/sweeperLagThreshold/);
    });
  });

  describe('in a process without a worker', () => {
    const suite = suiteApp('health_c', [Pings], { options: { worker: false } });

    it('should report no heartbeat check, and the sweeper down once a due run is left unpicked', async () => {
      const health = suite.app.get(ChronoForgeHealth);
      const before = await health.check({ timeout: '30s' });
      expect(before.checks.heartbeat).toBeUndefined();
      expect('heartbeat' in before.checks).toBe(false);
      expect(before.checks.sweeper).toMatchObject({ status: 'up', dueRuns: 0 });
      expect(before.status).toBe('up');

      // No worker anywhere on this queue: the run stays due and idle.
      await suite.client.start('health.ping', { key: 'left', input: { n: 1 } });
      const report = await eventually(async () => {
        const r = await health.check({ sweeperLagThreshold: '200ms', timeout: '30s' });
        return r.checks.sweeper.status === 'down' ? r : undefined;
      }, 60_000);
      expect(report.status).toBe('down');
      expect(report.checks.sweeper.dueRuns).toBe(1);
      expect(report.checks.sweeper.lagMs).toBeGreaterThan(200);
      expect(report.checks.sweeper.thresholdMs).toBe(200);
      expect(report.checks.sweeper.message).toMatch(/1 run\(s\) due but not picked up/);
      expect(report.checks.database.status).toBe('up');
      expect(report.checks.queue.status).toBe('up');
      expect(report.checks.heartbeat).toBeUndefined();

      // The same run under a threshold it has not reached yet is healthy.
      const lenient = await health.check({ sweeperLagThreshold: '1h', timeout: '30s' });
      expect(lenient.checks.sweeper).toMatchObject({ status: 'up', dueRuns: 1 });
      expect(lenient.status).toBe('up');
    });
  });

  it('should report the database and queue down, not throw, once the connections are closed', async () => {
    const schema = uniqueName('cf_health_x');
    const queueName = uniqueName('q_health_x');
    const app = await bootApp({
      schema,
      queueName,
      providers: [Pings],
      options: { worker: false },
    });
    try {
      const health = app.get(ChronoForgeHealth);
      expect((await health.check({ timeout: '30s' })).status).toBe('up');
      await app.close();
      const report: HealthReport = await health.check({ timeout: '3s' });
      expect(report.status).toBe('down');
      expect(report.checks.database.status).toBe('down');
      expect(report.checks.database.message).toBeTruthy();
      expect(report.checks.sweeper.status).toBe('down');
      expect(report.checks.queue.status).toBe('down');
    } finally {
      await app.close();
      await cleanup(schema, queueName);
    }
  });
});
