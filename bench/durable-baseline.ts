import type { Queue } from 'bullmq';
import type pg from 'pg';
import { rawQueue, Tally, uniqueName } from './support.js';

/**
 * The second throughput baseline: a hand-written durable BullMQ job, the least a queue job does to
 * keep what a ChronoForge run keeps, with no engine. The start stores a run row before it enqueues
 * (persist-before-enqueue); each step does the work's INSERT, then records its result in a log row
 * (a checkpoint: a redelivered job skips the steps it finds); the end marks the run completed with
 * its result. 9 statements per job (the run row, the read of its checkpoints, 3 × 2, the end; 8 commits) against raw BullMQ's 3, with no
 * lock, no fencing against a second worker, no retries, sleeps or signals. What separates the
 * engine from it is the engine's own cost; what separates it from raw BullMQ is durability's.
 */
export class DurableJobs {
  private schema = '';
  private runs = '';
  private logs = '';
  private raw: { queue: Queue<{ key: string }>; close(): Promise<void> } | undefined;
  readonly done = new Tally();

  constructor(
    private readonly pool: pg.Pool,
    private readonly insertWork: (key: string, step: string) => Promise<void>,
  ) {}

  /** Creates its tables in a fresh schema and its queue and worker at `concurrency`. */
  async open(prefix: string, concurrency: number): Promise<void> {
    this.schema = uniqueName(`bench_durable_${prefix}`);
    this.runs = `"${this.schema}".runs`;
    this.logs = `"${this.schema}".logs`;
    await this.pool.query(`CREATE SCHEMA "${this.schema}"`);
    await this.pool.query(`CREATE TABLE ${this.runs} (id bigserial PRIMARY KEY, key text NOT NULL
      UNIQUE, state text NOT NULL DEFAULT 'idle', result jsonb, created_at timestamptz NOT NULL
      DEFAULT now(), completed_at timestamptz)`);
    await this.pool.query(`CREATE TABLE ${this.logs} (run_id bigint NOT NULL, step text NOT NULL,
      result jsonb, completed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, step))`);
    // The job carries the run's id: its first statement reads the run's checkpoints.
    this.raw = await rawQueue(`dur${prefix}`, concurrency, async (job) => {
      const id = job.data.key;
      const { rows: logs } = await this.pool.query<{ step: string; result: number }>(
        `SELECT step, result FROM ${this.logs} WHERE run_id = $1`,
        [id],
      );
      let sum = 0;
      for (let i = 1; i <= 3; i++) {
        const done = logs.find((l) => l.step === `step${i}`);
        if (done) {
          sum += done.result;
          continue;
        }
        await this.insertWork(`d${id}`, `step${i}`);
        await this.pool.query(
          `INSERT INTO ${this.logs} (run_id, step, result) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [id, `step${i}`, JSON.stringify(i)],
        );
        sum += i;
      }
      await this.pool.query(
        `UPDATE ${this.runs} SET state = 'completed', result = $2, completed_at = now() WHERE id = $1`,
        [id, JSON.stringify(sum)],
      );
      this.done.hit();
    });
  }

  /** Starts job `key`: its run row first, then its queue job. */
  async start(key: string): Promise<void> {
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO ${this.runs} (key) VALUES ($1) RETURNING id::text AS id`,
      [key],
    );
    await this.raw?.queue.add('job', { key: rows[0].id });
  }

  async close(): Promise<void> {
    await this.raw?.close();
    if (this.schema) await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
  }
}
