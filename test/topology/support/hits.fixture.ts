import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import pg from 'pg';
import { Workflow, WorkflowContext } from '../../../lib/index.js';
import { DATABASE_URL } from '../../support/env.js';

/** Table of step executions of `schema`: one row per step body run, with the worker's pid. */
export const hitsTable = (schema: string): string => `"${schema}".topology_hits`;

/** Records each step body run in PostgreSQL, so runs spread over processes can be counted. */
@Injectable()
export class HitsWorkflow implements OnModuleDestroy {
  private readonly pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  constructor(private readonly ctx: WorkflowContext) {
    // An idle connection dropped (PgBouncer stopping after the suite) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  private hit(step: string): Promise<unknown> {
    const schema = process.env.CF_TEST_SCHEMA ?? 'public';
    return this.pool.query(
      `INSERT INTO ${hitsTable(schema)} (key, step, pid) VALUES ($1, $2, $3)`,
      [this.ctx.key, step, process.pid],
    );
  }

  @Workflow('topology.hits')
  async run(): Promise<string> {
    await this.ctx.step('a', () => this.hit('a').then(() => 1));
    await this.ctx.sleep('200ms');
    await this.ctx.step('b', () => this.hit('b').then(() => 1));
    return 'done';
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}
