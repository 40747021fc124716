import type { INestApplicationContext } from '@nestjs/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowClient } from '../../lib/index.js';
import { PersistProbe, persistProviders } from '../fixtures/persist.fixture.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/**
 * One failed statement when a pass ends (deadlock, statement timeout, connection reset) must not
 * leave the run locked by this live worker until `maxDuration` (10 minutes by default): the run
 * completes within seconds once the fault clears. The fault is injected at the database: a trigger
 * on the suite's own workflows table fails the lock-releasing UPDATE of one run, once.
 */
describe('a failed statement at the end of a pass (e2e)', () => {
  const suite = suiteApp('rel', persistProviders);
  const { schema } = suite;
  const wf = `"${schema}".chrono_forge_workflows`;
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = suite.app;
    client = suite.client;
    // A sequence counts the tries: unlike a table, it is not rolled back with the failed statement.
    await sql(`CREATE TABLE "${schema}".faults (key text PRIMARY KEY, to_state text NOT NULL,
      errcode text NOT NULL, tries text NOT NULL)`);
    await sql(`CREATE FUNCTION "${schema}".fail_release() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE f record;
      BEGIN
        SELECT * INTO f FROM "${schema}".faults WHERE key = NEW.key AND to_state = NEW.state;
        IF FOUND AND nextval(f.tries::regclass) = 1 THEN
          RAISE EXCEPTION 'injected fault on releasing run %', NEW.key USING ERRCODE = f.errcode;
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER fail_release BEFORE UPDATE ON ${wf} FOR EACH ROW
      WHEN (OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL)
      EXECUTE FUNCTION "${schema}".fail_release()`);
  });

  it.each([
    ['the release of a halted pass (deadlock)', 'idle', '40P01'],
    ['the release of a halted pass (statement timeout)', 'idle', '57014'],
    ['the completion (connection failure)', 'completed', '08006'],
  ])('should complete a run whose %s failed once', async (_label, toState, errcode) => {
    const key = `rel-${toState}-${errcode}`;
    const tries = `"${schema}"."tries_${toState}_${errcode}"`;
    await sql(`CREATE SEQUENCE ${tries}`);
    await sql(`INSERT INTO "${schema}".faults VALUES ($1, $2, $3, $4)`, [
      key,
      toState,
      errcode,
      tries,
    ]);
    const handle = await client.start('persist.twoSteps', { key });
    // The default maxDuration is 10 minutes: only the pass itself can end it this fast.
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('ab');
    // Fired once, then went through.
    const [{ last_value: triesMade }] = await sql<{ last_value: string }>(
      `SELECT last_value FROM ${tries}`,
    );
    expect(Number(triesMade)).toBeGreaterThanOrEqual(2);
    expect(app.get(PersistProbe).seen.get(key)).toEqual(['first']);
    const [run] = await sql<{ locked_by: string | null; max_duration_ms: string }>(
      `SELECT locked_by, max_duration_ms FROM ${wf} WHERE key = $1`,
      [key],
    );
    expect(run).toMatchObject({ locked_by: null });
    expect(Number(run.max_duration_ms)).toBe(600_000);
  });
});
