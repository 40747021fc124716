import pg from 'pg';
import { defaultQueueSchema } from '../../lib/options/resolve-options.js';
import { DATABASE_URL, sql, uniqueName } from './env.js';

/**
 * A login role with a connection limit, for specs that make PostgreSQL refuse connections for
 * real (53300 too_many_connections): the app connects as the role (`url`), the spec takes the
 * role's free slots.
 */
export interface LimitedRole {
  readonly name: string;
  /** `DATABASE_URL` as the role. */
  readonly url: string;
  /** Creates the role and gives it `schema` and the schema of its PostgreSQL queue. */
  create(schema: string): Promise<void>;
  /** Drops what the role owns, then the role. */
  drop(): Promise<void>;
  /** Opens connections as the role until PostgreSQL refuses one (53300); returns them. */
  takeFreeSlots(): Promise<pg.Client[]>;
  /**
   * Closes the engine pool's connections (`application_name` `chronoforge`) and takes every free
   * slot of the role, until the pool has none left (its sweeps reconnect while slots are free):
   * its next checkout must connect anew, and is refused. Returns the connections taken.
   */
  starvePool(): Promise<pg.Client[]>;
}

export function limitedRole(limit: number): LimitedRole {
  const name = uniqueName('cf_role');
  const url = new URL(DATABASE_URL);
  url.username = name;
  // A password too: an embedded PostgreSQL (no services: test/support/global-setup.ts) asks for one.
  const password = 'cf-limited';
  url.password = password;

  async function takeFreeSlots(): Promise<pg.Client[]> {
    const held: pg.Client[] = [];
    for (let i = 0; i <= limit; i++) {
      const c = new pg.Client({ connectionString: url.toString() });
      c.on('error', () => undefined);
      try {
        await c.connect();
      } catch (err) {
        if ((err as { code?: string }).code !== '53300') throw err;
        return held;
      }
      held.push(c);
    }
    throw new Error(`the role's connection limit (${limit}) did not apply`);
  }

  return {
    name,
    url: url.toString(),
    async create(schema) {
      await sql(`CREATE ROLE "${name}" LOGIN PASSWORD '${password}' CONNECTION LIMIT ${limit}`);
      await sql(`GRANT CREATE ON DATABASE "${url.pathname.slice(1)}" TO "${name}"`);
      await sql(`CREATE SCHEMA "${schema}" AUTHORIZATION "${name}"`);
      await sql(`CREATE SCHEMA "${defaultQueueSchema(schema)}" AUTHORIZATION "${name}"`);
    },
    async drop() {
      await sql(`DROP OWNED BY "${name}"`).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS "${name}"`);
    },
    takeFreeSlots,
    async starvePool() {
      const held: pg.Client[] = [];
      for (let round = 0; round < 20; round++) {
        held.push(...(await takeFreeSlots()));
        const pooled = await sql<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND application_name = 'chronoforge'`,
          [name],
        );
        if (pooled.length === 0) return held;
        await sql(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, [
          pooled.map((p) => p.pid),
        ]);
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(held.map((c) => c.end()));
      throw new Error('the engine pool kept a connection');
    },
  };
}
