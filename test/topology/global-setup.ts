import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PgBouncer, startPgBouncer } from './support/pgbouncer.js';

function say(line: string): void {
  process.stdout.write(`[chronoforge topology] ${line}\n`);
}

/**
 * Starts the private PgBouncer of the topology suite (transaction pooling) in front of the direct
 * PostgreSQL, on the port vitest.topology.config.ts picked; stopped (and its files removed) after
 * the last project.
 */
const KEY = Symbol.for('chronoforge.topology.pgbouncer');
type Holder = { [KEY]?: { bouncer: Promise<PgBouncer>; users: number } };

export default async function setup(): Promise<() => Promise<void>> {
  const holder = globalThis as Holder;
  const port = Number(process.env.TOPO_PGBOUNCER_PORT);
  const direct = new URL(process.env.DATABASE_DIRECT_URL ?? '');
  if (!port || !direct.port) throw new Error('vitest.topology.config.ts sets the pooler settings');
  holder[KEY] ??= {
    users: 0,
    bouncer: mkdtemp(join(tmpdir(), 'chronoforge-pgbouncer-')).then((dir) =>
      startPgBouncer({
        dir,
        port,
        mode: 'transaction',
        target: {
          host: direct.hostname,
          port: Number(direct.port),
          user: decodeURIComponent(direct.username) || 'postgres',
          database: direct.pathname.slice(1),
        },
      }),
    ),
  };
  const entry = holder[KEY];
  entry.users++;
  const bouncer = await entry.bouncer;
  say(`PgBouncer (transaction pooling) on 127.0.0.1:${bouncer.port} in front of ${direct.host}`);
  return async () => {
    if (--entry.users > 0) return;
    delete holder[KEY];
    await bouncer.stop();
    say('PgBouncer stopped.');
  };
}
