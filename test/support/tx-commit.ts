import type { PoolClient } from 'pg';
import type { QueryRunner } from 'typeorm';
import { afterAll, beforeAll } from 'vitest';
import { ChronoForgeDatabase } from '../../lib/index.js';
import { StepTransaction } from '../../lib/database/step-transaction.js';
import type { StateCarrier } from '../../lib/persistence/rows.js';
import { type StepCommit, WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { serializeValue } from '../../lib/util/serialization.util.js';
import { TxCommitProbe, txCommitProviders } from '../fixtures/transactional-commit.fixture.js';
import { sql } from './env.js';
import { suiteApp } from './suite.js';

/**
 * The suite of the transactional-commit specs, declared inside a `describe`: the app with the
 * `txc` workflows, the tables their bodies write (business rows, a deferred foreign key, unique
 * keys; a fault on the checkpoint of `step$faulty`, once), and the store-level helpers: a run
 * locked by a made-up owner, a step transaction, its checkpoint and COMMIT.
 */
export function txCommitSuite(prefix: string) {
  const suite = suiteApp(prefix, txCommitProviders);
  const { schema } = suite;
  const wf = `"${schema}".chrono_forge_workflows`;
  const logs = `"${schema}".chrono_forge_execution_logs`;
  const rows = `"${schema}".rows`;
  const owner = 'store-test/1';
  let store: WorkflowStore;
  let probe: TxCommitProbe;

  beforeAll(async () => {
    store = suite.app.get(WorkflowStore);
    probe = suite.app.get(TxCommitProbe);
    probe.schema = schema;
    await sql(
      `CREATE TABLE ${rows} (id serial PRIMARY KEY, key text NOT NULL, what text NOT NULL)`,
    );
    await sql(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY)`);
    await sql(`CREATE TABLE "${schema}".lines (key text NOT NULL, order_id int NOT NULL
      REFERENCES "${schema}".orders (id) DEFERRABLE INITIALLY DEFERRED)`);
    await sql(`CREATE TABLE "${schema}".uniq (key text PRIMARY KEY)`);
    // A fault on the checkpoint of one step name, once (the sequence is not rolled back).
    await sql(`CREATE SEQUENCE "${schema}".fault_tries`);
    await sql(`CREATE FUNCTION "${schema}".fail_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.step_name = 'step$faulty' AND nextval('"${schema}".fault_tries') = 1 THEN
          RAISE EXCEPTION 'injected fault on the checkpoint' USING ERRCODE = '40P01';
        END IF;
        RETURN NEW;
      END $$`);
    await sql(`CREATE TRIGGER fail_checkpoint BEFORE INSERT ON ${logs} FOR EACH ROW
      EXECUTE FUNCTION "${schema}".fail_checkpoint()`);
  });

  afterAll(async () => {
    await probe?.pool.end();
  });

  const dataSource = () => suite.app.get(ChronoForgeDatabase).dataSource;

  /** A run whose lock `owner` holds (fresh: no pass of the suite's worker takes it). */
  async function lockedRun(key: string): Promise<string> {
    const { id } = await store.insertRun('txc.none', key, null, 3_600_000);
    await sql(
      `UPDATE ${wf} SET state = 'running', locked_by = $2, locked_at = now() WHERE id = $1`,
      [id, owner],
    );
    return id;
  }

  /** Counts the round trips of `client` (each `query` call is one). */
  function countQueries(conn: PoolClient): { texts: string[]; stop: () => void } {
    const texts: string[] = [];
    const original = conn.query.bind(conn) as (...args: unknown[]) => unknown;
    const counting = (...args: unknown[]): unknown => {
      const q = args[0] as string | { text?: string };
      texts.push(typeof q === 'string' ? q : String(q.text));
      return original(...args);
    };
    (conn as unknown as { query: typeof counting }).query = counting;
    return { texts, stop: () => delete (conn as unknown as { query?: unknown }).query };
  }

  async function begin(runner?: QueryRunner): Promise<StepTransaction> {
    return StepTransaction.begin(runner ?? dataSource().createQueryRunner(), 'READ COMMITTED');
  }

  function insert(tx: StepTransaction, key: string, what = 'business'): Promise<unknown> {
    return tx.runner.manager.query(`INSERT INTO ${rows} (key, what) VALUES ($1, $2)`, [key, what]);
  }

  function commit(
    tx: StepTransaction,
    runId: string,
    stepName: string,
    o: { fresh?: boolean; carrier?: StateCarrier; store?: WorkflowStore; anyId?: boolean } = {},
  ): Promise<StepCommit> {
    return (o.store ?? store).completeStepAndCommit(
      {
        workflowId: runId,
        owner,
        stepName,
        attempts: 1,
        result: serializeValue(`done ${stepName}`),
        metadata: {},
        startedAt: new Date(),
        fresh: o.fresh ?? true,
        carrier: o.carrier,
        anyId: o.anyId,
      },
      tx,
    );
  }

  const businessRows = async (key: string) =>
    (await sql<{ what: string }>(`SELECT what FROM ${rows} WHERE key = $1 ORDER BY id`, [key])).map(
      (r) => r.what,
    );
  const stepLogs = (runId: string) =>
    sql<{ step_name: string; state: string }>(
      `SELECT step_name, state FROM ${logs} WHERE workflow_id = $1 ORDER BY id`,
      [runId],
    );

  return {
    suite,
    schema,
    wf,
    logs,
    probe: () => probe,
    dataSource,
    lockedRun,
    countQueries,
    begin,
    insert,
    commit,
    businessRows,
    stepLogs,
  };
}
