import type { INestApplication } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeDashboardModule, ChronoForgeModule } from '../../lib/index.js';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { testModuleOptions } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';
import { TOKEN, TOKEN_HEADER, TokenGuard } from './dashboard.fixture.js';

/**
 * The dashboard's stale locks follow the engine's rule: a `running` run's lock is stale when it is
 * older than the run's max duration, or older than `worker.deadAfter` and held by a worker whose
 * heartbeat in `chrono_forge_workers` is older than that (or gone). The app is client-only, so no
 * sweeper takes the seeded locks over while the test looks at them.
 */
describe('dashboard: stale locks by worker heartbeat (e2e)', () => {
  const schema = uniqueName('cf_dstale');
  const queueName = uniqueName('q_dstale');
  const wf = `"${schema}".chrono_forge_workflows`;
  const workers = `"${schema}".chrono_forge_workers`;
  let app: INestApplication;
  let base: string;
  const ids: Record<string, string> = {};

  /** A `running` run locked by `<worker>/pass` since `lockedAgo` (max duration 10 minutes). */
  const lockedRun = async (key: string, worker: string, lockedAgo: string) => {
    const [row] = await sql<{ id: string }>(
      `INSERT INTO ${wf} (key, job_name, state, max_duration_ms, locked_by, locked_at, started_at)
       VALUES ($1, 'demo.locked', 'running', 600000, $2, now() - $3::interval, now() - $3::interval)
       RETURNING id`,
      [key, `${worker}/pass-1`, lockedAgo],
    );
    ids[key] = row.id;
  };
  const page = async (path: string): Promise<string> => {
    const res = await fetch(`${base}${path}`, { headers: { [TOKEN_HEADER]: TOKEN } });
    expect(res.status).toBe(200);
    return res.text();
  };
  /** The table row of run `key` on a page, or undefined. */
  const row = (htmlText: string, key: string): string | undefined =>
    htmlText.match(new RegExp(`<tr data-run="${ids[key]}">[\\s\\S]*?</tr>`))?.[0];

  beforeAll(async () => {
    @Module({
      imports: [
        ChronoForgeModule.forRoot(
          testModuleOptions({ schema, queueName, options: { worker: false } }),
        ),
        ChronoForgeDashboardModule.forRoot({ guard: TokenGuard }),
      ],
      providers: [TokenGuard],
    })
    class StaleLockDashboardModule {}
    app = await NestFactory.create(StaleLockDashboardModule, { logger: ['error', 'warn'] });
    await app.listen(0);
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/chronoforge`;

    await sql(
      `INSERT INTO ${workers} (id, heartbeat_at) VALUES ('w-live', now()), ('w-dead', now() - interval '5 minutes')`,
    );
    await lockedRun('dead-worker', 'w-dead', '2 minutes');
    await lockedRun('vanished-worker', 'w-gone', '2 minutes');
    await lockedRun('expired-lock', 'w-live', '20 minutes');
    await lockedRun('live-worker', 'w-live', '2 minutes');
    // Dead worker, but the lock is younger than deadAfter (30 s): not stale yet.
    await lockedRun('young-lock', 'w-dead', '5 seconds');
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should list a run locked by a dead worker as stranded, and one locked by a live worker not', async () => {
    const stranded = await page('/stranded');
    for (const key of ['dead-worker', 'vanished-worker', 'expired-lock']) {
      expect(row(stranded, key), key).toContain('stale lock');
    }
    expect(row(stranded, 'live-worker')).toBeUndefined();
    expect(row(stranded, 'young-lock')).toBeUndefined();

    const overview = await page('/');
    expect(row(overview, 'dead-worker')).toContain('stale lock');
    expect(row(overview, 'live-worker')).toBeUndefined();
  });

  it("should say why a run's lock is stale on its page", async () => {
    expect(await page(`/runs/${ids['dead-worker']}`)).toContain(
      '(stale: worker heartbeat stopped)',
    );
    expect(await page(`/runs/${ids['expired-lock']}`)).toContain('(stale: older than 10m 0s)');
    const live = await page(`/runs/${ids['live-worker']}`);
    expect(live).toContain('w-live/pass-1');
    expect(live).not.toContain('(stale');
  });

  it('should agree with the runs the engine would take over', async () => {
    const recoverable = await app.get(WorkflowStore).findRecoverable(Date.now(), 1_000, 100);
    const stale = recoverable.filter((r) => r.stale).map((r) => r.id);
    const keys = Object.keys(ids).filter((k) => stale.includes(ids[k]));
    expect(keys.sort()).toEqual(['dead-worker', 'expired-lock', 'vanished-worker']);
  });
});
