import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChronoForgeDatabase, Workflow, WorkflowClient, WorkflowContext } from '../../lib/index.js';
import { embeddedBinaryDir, unreachableFor } from '../../lib/database/embedded-postgres.js';
import { bootApp } from '../support/app.js';
import {
  embeddedPackageMissing,
  freePort,
  postgresOsUser,
  skipNotice,
} from '../support/embedded-postgres.js';
import { uniqueName } from '../support/env.js';

@Injectable()
class EmbeddedWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('embedded.sum')
  async sum(input: { values: number[] }): Promise<number> {
    let total = 0;
    for (const [i, v] of input.values.entries())
      total = await this.ctx.step(`add-${i}`, () => total + v);
    return total;
  }
}

/** Why embedded-postgres cannot run here, or undefined when it can. */
async function embeddedUnavailable(): Promise<string | undefined> {
  const missing = await embeddedPackageMissing();
  if (missing) return missing;
  if (userInfo().uid === 0) {
    const owner = postgresOsUser();
    if (!owner)
      return 'running as root without a "postgres" OS user, which PostgreSQL needs to run as';
    const bin = embeddedBinaryDir();
    const problem = bin
      ? await unreachableFor(owner, bin, 'the embedded-postgres binaries')
      : undefined;
    if (problem) return problem;
  }
  return undefined;
}

async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 1_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (err) {
    // Refused once the server is gone; an authentication error means it still answers.
    return !/ECONNREFUSED/.test((err as Error).message);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const unavailable = skipNotice('embedded PostgreSQL e2e', await embeddedUnavailable());

// Pins `database: { embedded }` and `queue: { postgres: true }`: nothing outside the process.
describe.skipIf(unavailable !== undefined)('embedded PostgreSQL database (e2e)', () => {
  let dir: string;
  let dataDir: string;
  let port: number;
  const schema = uniqueName('cf_emb');
  const queueName = uniqueName('q_emb');
  const boot = () =>
    bootApp({
      schema,
      queueName,
      providers: [EmbeddedWorkflows],
      options: { database: { embedded: { dataDir, port }, schema }, queue: { postgres: true } },
    });
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cf-embedded-e2e-'));
    await chmod(dir, 0o755); // as root the server runs as the `postgres` OS user, which must reach its data dir
    dataDir = join(dir, 'pgdata');
    port = await freePort();
  });

  afterAll(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('should complete a workflow on an embedded server, stop it on close, and keep the data for the next start', async () => {
    app = await boot();
    expect(await canConnect(port)).toBe(true);
    const endpoint = await app.get(ChronoForgeDatabase).endpoint();
    expect(endpoint.connectionString).toMatch(
      new RegExp(`^postgres://postgres:[^@]+@127\\.0\\.0\\.1:${port}/chronoforge$`),
    );
    const client = app.get(WorkflowClient);
    await expect(
      client
        .start('embedded.sum', { key: 'sum-1', input: { values: [1, 2, 3] } })
        .then((h) => h.result({ timeout: '15s' })),
    ).resolves.toBe(6);
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);

    await app.close();
    app = undefined;
    expect(await canConnect(port)).toBe(false);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);

    // Same data directory: the server restarts without initdb and the finished run is still there.
    app = await boot();
    const again = app.get(WorkflowClient);
    const run = await again.get('sum-1');
    expect(run.state).toBe('completed');
    expect(run.result).toBe(6);
    await expect(
      again
        .start('embedded.sum', { key: 'sum-2', input: { values: [4, 5] } })
        .then((h) => h.result({ timeout: '15s' })),
    ).resolves.toBe(9);
    await app.close();
    app = undefined;
    expect(await canConnect(port)).toBe(false);
  });
});
