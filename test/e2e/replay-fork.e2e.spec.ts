import { beforeEach, describe, expect, it } from 'vitest';
import {
  InputValidationError,
  InvalidOptionsError,
  SerializationError,
  TestClock,
  WorkflowNotFoundError,
  WorkflowWorker,
} from '../../lib/index.js';
import { replay } from '../../lib/testing/index.js';
import { deployed, VersioningBodies, versioningProviders } from '../fixtures/versioning.fixture.js';
import { eventually, sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

describe('history export, replay testing and fork (e2e)', () => {
  const clock = new TestClock();
  const suite = suiteApp('rfork', versioningProviders, { clock });
  const bodies = () => suite.app.get(VersioningBodies);

  beforeEach(() => {
    deployed.code = 'v1';
  });

  it('should replay an exported history: pass on unchanged code, report the divergence on changed code', async () => {
    const handle = await suite.client.start('versioning.flow', { key: 'ex-1' });
    await eventually(async () => {
      const run = await suite.client.get('ex-1');
      return run.state === 'idle' && run.steps.some((s) => s.name === 'wait$pause');
    }, 30_000);
    clock.advance(3600_000 + 1);
    await suite.app.get(WorkflowWorker).sweep();
    await expect(handle.result({ timeout: '30s' })).resolves.toEqual(['A', 'B', 'C']);
    // Through JSON, as `chronoforge export` writes it to a file.
    const history = JSON.parse(JSON.stringify(await suite.client.export('ex-1')));
    expect(history).toMatchObject({ format: 'chronoforge.run-history', formatVersion: 1 });
    expect(history.run.history).toEqual(['step$A', 'step$B', 'wait$pause', 'step$C']);
    const same = await replay(history, suite.app);
    expect(same).toEqual({ ok: true, outcome: 'completed', result: ['A', 'B', 'C'] });
    deployed.code = 'inserted';
    const changed = await replay(history, suite.app);
    expect(changed.ok).toBe(false);
    if (!changed.ok)
      expect(changed.divergence).toEqual({ position: 1, recorded: 'step$B', called: 'step$X' });
    deployed.code = 'removed';
    const removed = await replay(history, suite.app);
    expect(removed.ok).toBe(false);
    // No side effect: no step body ran during the replays.
    expect(bodies().list('ex-1')).toEqual(['A', 'B', 'C']);
  });

  it('should fork a run from step 3, re-executing only steps 3 to 5', async () => {
    const source = await suite.client.start('versioning.five', { key: 'five-1' });
    await expect(source.result({ timeout: '30s' })).resolves.toHaveLength(5);
    const fork = await suite.client.fork('five-1', { fromStep: 's3', newKey: 'five-1-again' });
    await expect(fork.result({ timeout: '30s' })).resolves.toEqual([
      's1@five-1',
      's2@five-1',
      's3@five-1-again',
      's4@five-1-again',
      's5@five-1-again',
    ]);
    expect(bodies().list('five-1-again')).toEqual(['s3', 's4', 's5']);
    const run = await suite.client.get('five-1-again');
    const sourceRun = await suite.client.get('five-1');
    expect(run.forkedFrom).toBe(sourceRun.id);
    // A default key, and a step the run never recorded is refused with the calls it did record.
    const second = await suite.client.fork('five-1', { fromStep: 'step$s5' });
    expect(second.key).toBe('five-1-fork-2');
    await expect(suite.client.fork('five-1', { fromStep: 'nope' })).rejects.toThrow(
      /no recorded call "step\$nope".*step\$s1/,
    );
  });

  it('should refuse bad fork arguments with named errors, storing nothing', async () => {
    const source = await suite.client.start('versioning.counted', {
      key: 'cnt-1',
      input: { n: 2 },
    });
    await expect(source.result({ timeout: '30s' })).resolves.toEqual([2, 20]);
    const runs = () =>
      sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${suite.schema}".chrono_forge_workflows`);
    const logs = () =>
      sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${suite.schema}".chrono_forge_execution_logs`,
      );
    const before = [await runs(), await logs()];
    const bad: Array<[() => Promise<unknown>, new (...a: never[]) => Error, RegExp]> = [
      [() => suite.client.fork('', { fromStep: 'first' }), InvalidOptionsError, /run key/],
      [() => suite.client.fork('cnt-1', null as never), InvalidOptionsError, /needs options/],
      [() => suite.client.fork('cnt-1', { fromStep: 7 } as never), InvalidOptionsError, /fromStep/],
      [
        () => suite.client.fork('cnt-1', { fromStep: 'first', newkey: 'x' } as never),
        InvalidOptionsError,
        /unknown: "newkey"/,
      ],
      [
        () => suite.client.fork('cnt-1', { fromStep: 'first', newKey: 'a\u0007b' }),
        InvalidOptionsError,
        /control or bidi/,
      ],
      [
        () => suite.client.fork('cnt-1', { fromStep: 'second', input: { n: 'x' } }),
        InputValidationError,
        /n must be an integer/,
      ],
      [
        () =>
          suite.client.fork('cnt-1', {
            fromStep: 'second',
            input: { n: 1, big: 'x'.repeat(1 << 20) },
          }),
        InvalidOptionsError,
        /the limit is 1048576/,
      ],
      [
        () => suite.client.fork('cnt-1', { fromStep: 'second', input: { n: 1n } }),
        SerializationError,
        /BigInt|bigint/i,
      ],
      [
        () => suite.client.fork('no-such-run', { fromStep: 'first' }),
        WorkflowNotFoundError,
        /no-such/,
      ],
    ];
    for (const [call, type, message] of bad) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
    }
    expect([await runs(), await logs()]).toEqual(before);
    // A valid input passes the same checks, and the fork runs with it from `second`.
    const fork = await suite.client.fork('cnt-1', { fromStep: 'second', input: { n: 3 } });
    await expect(fork.result({ timeout: '30s' })).resolves.toEqual([2, 30]);
  });
});
