import type { INestApplicationContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cliSuite } from '../support/cli.js';
import { cleanup } from '../support/env.js';

describe('chronoforge limits CLI (e2e)', () => {
  const { schema, queueName, cli } = cliSuite('clil');
  let app: INestApplicationContext;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, options: { worker: false } });
    const client = app.get(WorkflowClient);
    await client.limits.set('stripe', {
      rate: [
        { limit: 3, per: '1s' },
        { limit: 100, per: '1m' },
      ],
    });
    await client.limits.set('pdf', { concurrency: 2 });
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should list the limits with their definition in force, holders and waiters', async () => {
    const list = await cli('limits');
    expect(list).toMatchObject({ code: 0, err: '' });
    expect(list.out).toBe(
      'pdf\tconcurrency=2\toverride\theld=0\twaiting=0\n' +
        'stripe\trate=3/1000ms,100/60000ms\toverride\theld=0\twaiting=0\n',
    );
    const json = JSON.parse((await cli('limits', 'list', '--json')).out) as Array<{ name: string }>;
    expect(json.map((l) => l.name)).toEqual(['pdf', 'stripe']);
    const show = JSON.parse((await cli('limits', 'show', 'pdf')).out) as unknown;
    expect(show).toMatchObject({ name: 'pdf', effective: { concurrency: 2 }, holders: [] });
  });

  it('should refuse a bad limits command line and report an unknown limit', async () => {
    expect((await cli('limits', 'show')).code).toBe(2);
    expect((await cli('limits', 'drop', 'pdf')).code).toBe(2);
    const unknown = await cli('limits', 'show', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/nope/);
  });
});
