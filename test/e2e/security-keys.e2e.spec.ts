import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, WorkflowClient } from '../../lib/index.js';
import { type CliIo, runCli } from '../../lib/cli/cli.js';
import { cleanup, DATABASE_URL, REDIS_URL, sql, uniqueName } from '../support/env.js';
import { bootDashboardApp, TOKEN, TOKEN_HEADER } from './dashboard.fixture.js';

/** Keys that would rewrite a terminal line, forge a row or disguise themselves (issue 26, 3). */
const HOSTILE = {
  ansi: 'order-\u001b[31mred\u001b]0;pwned\u0007',
  newline: 'order-1\n999\tcompleted\tdemo.ship\tforged',
  bidi: 'order-\u202etxt.exe',
  c1: 'order-\u009b2J',
  isolate: 'order-\u2066x\u2069',
};
/** Any raw control or bidi character. */
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('control characters in run keys (e2e)', () => {
  const schema = uniqueName('cf_seckey');
  const queueName = uniqueName('q_seckey');
  let app: INestApplication;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = await bootDashboardApp(schema, queueName);
    client = app.get(WorkflowClient);
    // Runs created before the check existed: their keys stay in the table and must print escaped.
    for (const [i, key] of Object.values(HOSTILE).entries()) {
      await client.start('demo.waiter', { key: `plain-${i}` });
      await sql(`UPDATE "${schema}".chrono_forge_workflows SET key = $1 WHERE key = $2`, [
        key,
        `plain-${i}`,
      ]);
    }
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it.each(Object.entries(HOSTILE))('should refuse a new run whose key holds %s', async (_, key) => {
    await expect(client.start('demo.waiter', { key })).rejects.toThrow(InvalidOptionsError);
    await expect(client.start('demo.waiter', { key })).rejects.toThrow(
      /control or bidi character \\u/,
    );
  });

  it('should escape control characters in chronoforge list, plain and --json', async () => {
    const env = {
      DATABASE_URL,
      REDIS_URL,
      CHRONOFORGE_SCHEMA: schema,
      CHRONOFORGE_QUEUE_NAME: queueName,
      CHRONOFORGE_QUEUE: process.env.CF_QUEUE === 'postgres' ? 'postgres' : 'redis',
    };
    for (const argv of [['list'], ['list', '--json']]) {
      let out = '';
      const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (out += `${t}\n`), env };
      expect(await runCli(argv, io)).toBe(0);
      expect(out).not.toMatch(RAW);
      expect(out).toContain('order-\\u001b[31mred');
      expect(out).toContain('order-\\u202etxt.exe');
      if (argv.length === 1)
        expect(out.trim().split('\n')).toHaveLength(Object.keys(HOSTILE).length);
      else expect((JSON.parse(out) as { key: string }[]).map((r) => r.key)).toContain(HOSTILE.bidi);
    }
  });

  it('should show bidi and control characters visibly in the dashboard', async () => {
    const base = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/api/ops/cf`;
    const page = await (await fetch(`${base}/runs`, { headers: { [TOKEN_HEADER]: TOKEN } })).text();
    expect(page).toContain('order-\\u202etxt.exe');
    expect(page).not.toMatch(RAW);
  });
});
