import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryPolicy, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cliSuite } from '../support/cli.js';
import { cleanup, eventually } from '../support/env.js';

@Injectable()
class CliWorkflows {
  fail = true;
  open = false;
  checks = 0;
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('cli.gate')
  async gate(): Promise<string> {
    // Checked once an hour: only a resume makes it look again soon.
    await this.ctx.waitUntil('open', () => ++this.checks > 0 && this.open, {
      checkEvery: '1h',
      timeout: '1d',
    });
    return 'passed';
  }

  undone: string[] = [];

  /** A compensated step, then an hour's sleep. */
  @Workflow('cli.undoable')
  async undoable(): Promise<string> {
    const key = this.ctx.key;
    await this.ctx.step('book', () => 'booked', {
      compensate: (r) => void this.undone.push(`${key}: ${r}`),
    });
    await this.ctx.sleep('1h');
    return 'woke';
  }

  @Workflow('cli.job')
  async job(input: { n: number }): Promise<number> {
    return this.ctx.step(
      'work',
      async () => {
        if (this.fail && input.n < 0) throw new Error('negative');
        return input.n;
      },
      { retry: new RetryPolicy({ maxAttempts: 1 }) },
    );
  }
}

describe('chronoforge CLI (e2e)', () => {
  const { schema, queueName, cli } = cliSuite('cli');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    expect((await cli('migrate')).code).toBe(0); // the CLI creates the tables first
    app = await bootApp({ schema, queueName, providers: [CliWorkflows] });
    client = app.get(WorkflowClient);
    await (
      await client.start('cli.job', { key: 'ok-1', input: { n: 1 } })
    ).result({ timeout: '10s' });
    await client.start('cli.job', { key: 'bad-1', input: { n: -1 } });
    await eventually(
      async () => (await client.get('bad-1')).state === 'stalled',
      10_000,
      'stalled',
    );
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should list and show runs', async () => {
    const list = await cli('list', '--workflow', 'cli.job');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/\tstalled\tcli\.job\tbad-1\t/);
    expect(list.out).toMatch(/\tcompleted\tcli\.job\tok-1\t/);
    const json = JSON.parse((await cli('list', '--state', 'stalled', '--json')).out) as {
      key: string;
    }[];
    expect(json.map((r) => r.key)).toEqual(['bad-1']);
    const shown = JSON.parse((await cli('show', 'bad-1')).out) as {
      state: string;
      errors: unknown[];
    };
    expect(shown).toMatchObject({
      state: 'stalled',
      errors: [expect.objectContaining({ message: 'negative' })],
    });
  });

  it('should retry a stalled run, refuse to retry a completed one, and cancel', async () => {
    app.get(CliWorkflows).fail = false;
    expect(await cli('retry', 'bad-1')).toMatchObject({ code: 0, out: 'retry: bad-1 ok\n' });
    await expect
      .poll(async () => (await client.get('bad-1')).state, { timeout: 10_000 })
      .toBe('completed');
    const refused = await cli('retry', 'ok-1');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('Cannot retry run "ok-1" in state "completed"');
    await client.start('cli.job', { key: 'later-1', input: { n: 5 } });
    const cancelled = await cli('cancel', 'later-1');
    expect([0, 1]).toContain(cancelled.code); // it may have completed already
  });

  it('should resume a run so it re-checks its wait right away', async () => {
    const gates = app.get(CliWorkflows);
    const gate = await client.start('cli.gate', { key: 'gate-1' });
    await eventually(
      async () => {
        const run = await client.get('gate-1');
        return run.state === 'idle' && run.nextRunAt !== null && gates.checks > 0;
      },
      10_000,
      'the gate to wait',
    );
    // Let the passes of the start settle: from here only a resume re-checks within the hour.
    await new Promise((r) => setTimeout(r, 1_000));
    const checks = gates.checks;
    expect(await cli('resume', 'gate-1', '--workflow', 'cli.gate')).toMatchObject({
      code: 0,
      out: 'resume: gate-1 ok\n',
    });
    await eventually(async () => gates.checks > checks, 10_000, 'a re-check');
    gates.open = true;
    const resumed = await cli('resume', 'gate-1');
    expect(resumed, resumed.err).toMatchObject({ code: 0, out: 'resume: gate-1 ok\n' });
    await expect(gate.result({ timeout: '10s' })).resolves.toBe('passed');
    const again = await cli('resume', 'gate-1');
    expect(again.code).toBe(1);
    expect(again.err).toContain('Cannot resume run "gate-1" in state "completed"');
  });

  it('should cancel with a reason and a rollback, and roll a stalled run back', async () => {
    const flows = app.get(CliWorkflows);
    await client.start('cli.undoable', { key: 'undo-1' });
    await eventually(async () => (await client.get('undo-1')).state === 'idle', 10_000, 'sleep');
    const cancelled = await cli('cancel', 'undo-1', '--reason', 'ops: duplicate', '--compensate');
    expect(cancelled, cancelled.err).toMatchObject({ code: 0, out: 'cancel: undo-1 ok\n' });
    await expect
      .poll(async () => (await client.get('undo-1')).state, { timeout: 10_000 })
      .toBe('compensated');
    expect(flows.undone).toEqual(['undo-1: booked']);
    const shown = JSON.parse((await cli('show', 'undo-1')).out) as { cancelReason: string };
    expect(shown.cancelReason).toBe('ops: duplicate');

    flows.fail = true;
    await client.start('cli.job', { key: 'bad-2', input: { n: -2 } });
    await eventually(async () => (await client.get('bad-2')).state === 'stalled', 10_000, 'stall');
    expect(await cli('compensate', 'bad-2')).toMatchObject({ code: 0 });
    // Nothing to compensate: the rollback ends failed, with its cause recorded.
    await expect
      .poll(async () => (await client.get('bad-2')).compensation, { timeout: 10_000 })
      .toMatchObject({ cause: 'stalled', compensated: [], failures: [] });
    expect((await client.get('bad-2')).state).toBe('failed');
    expect((await cli('retry', 'ok-1', '--reason', 'x')).code).toBe(2);
    expect((await cli('cancel', 'ok-1', '--compensate', '--no-compensate')).code).toBe(2);
  });

  it('should answer usage errors with status 2 and the usage', async () => {
    expect((await cli()).code).toBe(2);
    expect((await cli('--help')).code).toBe(0);
    const unknown = await cli('explode');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('Usage: chronoforge');
    expect((await cli('show')).code).toBe(2);
    expect((await cli('list', '--bogus')).code).toBe(2);
  });

  it('should clean up terminal runs', async () => {
    const result = await cli('cleanup', '--older-than', '0ms', '--batch-size', '10');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ workflows: expect.any(Number), repeatTicks: 0 });
    expect((await cli('list', '--json')).out.trim()).toBe('[]');
  });

  it('should run as bin/chronoforge.js', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    if (!existsSync(`${root}/dist/lib/cli/cli.js`)) {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
    }
    const run = spawnSync(process.execPath, [`${root}/bin/chronoforge.js`, '--help'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: chronoforge <command>');
  });
});
