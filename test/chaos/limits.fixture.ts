import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { RetryPolicy, Workflow, WorkflowContext } from '../../lib/index.js';
import { DATABASE_URL } from '../support/env.js';
import { ChaosLedger, chaosSchema } from './chaos.fixture.js';

/**
 * The limited workflows of the chaos suite (issue 17): `chaos.limited` runs one step under the
 * per-key semaphore `chaos.conc` and one under the per-key rate `chaos.rate`. Each body writes the
 * suite's ledger row (so the lock and exactly-once invariants cover it) and its own start and end
 * in `limit_bodies` (the process's clock, shared by every process of the machine): the limit
 * invariants are measured from these rows, not from the engine's counters.
 */

/** The named limits of the chaos workers. A 2 s window: its guard (100 ms) absorbs grant→start delays. */
export const CHAOS_LIMITS = {
  'chaos.conc': { concurrency: 2 },
  'chaos.rate': { rate: { limit: 3, per: '2s' } },
} as const;
export const CHAOS_CONC_SLOTS = CHAOS_LIMITS['chaos.conc'].concurrency;
export const CHAOS_RATE_LIMIT = CHAOS_LIMITS['chaos.rate'].rate.limit;
export const CHAOS_RATE_WINDOW_MS = 2_000;
/** How long a `chaos.conc` body works (long enough for slots to be held when a worker dies). */
export const CHAOS_HOLD_MS = 800;
/** Keys the limited runs spread over. */
export const CHAOS_LIMIT_KEYS = 4;
/** Ledger rows (distinct steps) each limited run writes. */
export const LIMITED_BODIES = 2;

const limitedRetry = new RetryPolicy({ maxAttempts: 50, base: '50ms', cap: '500ms' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Injectable()
export class ChaosLimitLedger implements OnModuleDestroy {
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });

  constructor() {
    this.pool.on('error', () => undefined);
  }

  static table = (schema: string): string => `"${schema}".limit_bodies`;

  static async createTable(schema: string, run: (q: string) => Promise<unknown>): Promise<void> {
    await run(`CREATE TABLE IF NOT EXISTS ${ChaosLimitLedger.table(schema)} (id bigserial PRIMARY KEY,
      lim text NOT NULL, lkey text NOT NULL, run text NOT NULL, pid int NOT NULL,
      started_ms bigint NOT NULL, ended_ms bigint)`);
  }

  /** A body under limit `lim`, key `lkey`, of run `run`, lasting `ms`; its start and end recorded. */
  async body(lim: string, lkey: string, run: string, ms: number): Promise<void> {
    const startedMs = Date.now();
    const table = ChaosLimitLedger.table(chaosSchema());
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO ${table} (lim, lkey, run, pid, started_ms) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [lim, lkey, run, process.pid, startedMs],
    );
    await sleep(ms);
    await this.pool.query(`UPDATE ${table} SET ended_ms = $2 WHERE id = $1`, [
      rows[0].id,
      Date.now(),
    ]);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

@Injectable()
export class ChaosLimitedWorkflows {
  constructor(
    private readonly ctx: WorkflowContext,
    private readonly ledger: ChaosLedger,
    private readonly limits: ChaosLimitLedger,
  ) {}

  @Workflow('chaos.limited', { maxDuration: '2s', retry: limitedRetry })
  async limited(input: { key: string }): Promise<string> {
    const run = this.ctx.key;
    await this.ctx.step(
      'held',
      async () => {
        await this.ledger.record();
        await this.limits.body('conc', input.key, run, CHAOS_HOLD_MS);
      },
      { retry: limitedRetry, limit: { name: 'chaos.conc', key: input.key } },
    );
    await this.ctx.step(
      'rated',
      async () => {
        await this.ledger.record();
        await this.limits.body('rate', input.key, run, 1);
      },
      { retry: limitedRetry, limit: { name: 'chaos.rate', key: input.key } },
    );
    return `limited-${run}`;
  }
}

export const chaosLimitProviders = [ChaosLimitLedger, ChaosLimitedWorkflows];
