import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { toStoredLimits } from '../../lib/options/limit-options.js';
import type { LimitDefinition } from '../../lib/options/limit-options.interface.js';
import { LimitStore, type LimitRequest } from '../../lib/limits/limit.store.js';
import { WorkflowLimits } from '../../lib/limits/workflow-limits.js';
import { bootApp } from './app.js';
import { cleanup, DATABASE_URL, sql, uniqueName } from './env.js';

/** A pass's hold on a run: its id and the lock owner. */
export interface HeldRun {
  runId: string;
  owner: string;
}

/**
 * The limit primitives against real PostgreSQL with no engine around them, for the enclosing
 * `describe`: a client-only app on its own schema with `declared` limits, a `LISTEN` on the wake
 * channel collecting the woken run ids, and helpers that stand in for the engine's passes.
 */
export function limitStoreSuite(prefix: string, declared: Record<string, LimitDefinition>) {
  const schema = uniqueName(`cf_${prefix}`);
  const queueName = uniqueName(`q_${prefix}`);
  const wf = `"${schema}".chrono_forge_workflows`;
  const woken: string[] = [];
  let app: INestApplicationContext | undefined;
  let store: LimitStore | undefined;
  let listener: pg.Client | undefined;
  let runs = 0;

  beforeAll(async () => {
    app = await bootApp({
      schema,
      queueName,
      options: { worker: false, database: { url: DATABASE_URL, schema, poolSize: 6 } },
    });
    store = new LimitStore(app.get(WorkflowStore));
    await store.declare(toStoredLimits(declared));
    listener = new pg.Client({ connectionString: DATABASE_URL });
    await listener.connect();
    listener.on('notification', (m) => {
      if (m.payload?.startsWith(`${schema}:`)) woken.push(m.payload.slice(schema.length + 1));
    });
    await listener.query('LISTEN chronoforge_wake');
  });

  afterAll(async () => {
    await listener?.end();
    await app?.close();
    await cleanup(schema, queueName);
  });

  const booted = (): LimitStore => {
    if (!store) throw new Error('limitStoreSuite: use it from a test or a later hook');
    return store;
  };

  return {
    schema,
    wf,
    woken,
    /** The limit store, from the suite's `beforeAll` on. */
    get limits(): LimitStore {
      return booted();
    },
    /** `client.limits` over it. */
    get admin(): WorkflowLimits {
      return new WorkflowLimits(booted());
    },

    /** A run whose lock is held by pass `<worker>/<job>` of a live worker (or a dead one). */
    async lockedRun(worker = 'w1', dead = false): Promise<HeldRun> {
      const n = ++runs;
      const owner = `${worker}/job-${n}`;
      const beat = dead ? `now() - interval '1 hour'` : 'now()';
      await sql(
        `INSERT INTO "${schema}".chrono_forge_workers (id, heartbeat_at) VALUES ($1, ${beat})
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
        [worker],
      );
      const [row] = await sql<{ id: string }>(
        `INSERT INTO ${wf} (key, job_name, max_duration_ms, state, locked_at, locked_by)
         VALUES ($1, 'limits.test', 600000, 'running', ${beat}, $2) RETURNING id::text`,
        [`run-${n}`, owner],
      );
      return { runId: row.id, owner };
    },

    /** Ends the run's pass as the engine would: parked idle (its waits kept), lock released. */
    async park(runId: string): Promise<void> {
      await sql(
        `UPDATE ${wf} SET state = 'idle', locked_by = NULL, locked_at = NULL WHERE id = $1`,
        [runId],
      );
    },

    /** Takes the lock of a parked run for a new pass. */
    async resume(runId: string, worker = 'w1'): Promise<string> {
      const owner = `${worker}/job-${++runs}`;
      await sql(
        `UPDATE ${wf} SET state = 'running', locked_by = $2, locked_at = now() WHERE id = $1`,
        [runId, owner],
      );
      return owner;
    },

    /** The step-call claim of `r` on limit `name`, key `key`. */
    req: (r: HeldRun, name: string, key = ''): LimitRequest => ({
      ...r,
      holder: 'step$call',
      claims: [{ name, key }],
    }),
  };
}
