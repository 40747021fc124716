import 'reflect-metadata';
import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { ChronoForgeModule } from '../chrono-forge.module.js';
import { WorkflowClient } from '../client/workflow.client.js';
import { ChronoForgeError } from '../errors/chrono-forge.error.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import type { Duration } from '../util/duration.util.js';
import { escapeControlChars, escapeJsonControlChars } from '../util/control-chars.util.js';
import { redactUrl } from '../util/redact.util.js';
import { ChronoForgeOperationsModule } from '../operations/chrono-forge-operations.module.js';
import { CliUsageError } from '../errors/cli-usage.error.js';
import { SearchAttributeError } from '../errors/search-attribute.error.js';
import {
  formatAttributes,
  parseAttributeTerms,
  type SearchAttributes,
} from '../definitions/search-attributes.js';
import { Cleanup } from '../operations/cleanup.js';
import { parseSchedulesArgs, runSchedulesCommand, SCHEDULES_USAGE } from './schedules-command.js';
import { LIMITS_USAGE, parseLimitsArgs, runLimitsCommand } from './limits-command.js';

/** Where the CLI writes and what environment it reads. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const USAGE = `Usage: chronoforge <command> [options]

Commands:
  migrate                      run ChronoForge's migrations (also done by every app at boot)
  list [--state s] [--workflow w] [--key prefix] [--before id] [--limit n]
       [--attr key=text | --attr key:=number|true|false]...   runs with all these attributes
  show <key> [--workflow w]    a run with its steps, errors and branches (JSON)
  retry <key> [--workflow w]   retry a failed or stalled run
  resume <key> [--workflow w]  wake an idle run so it re-checks what it waits on
  cancel <key> [--workflow w] [--reason text] [--children] [--compensate|--no-compensate]
                               cancel an idle, running or stalled run (and its descendants)
  compensate <key> [--workflow w]  roll a failed or stalled run back (its compensations run)
  versions [--json]            in-flight runs per workflow and @Workflow version, with live workers
  export <key> [--workflow w]  the run's history as JSON, for the testing kit's replay()
  cleanup [--older-than 90d] [--completed-older-than d] [--failed-older-than d]
          [--prune-repeat-ticks-older-than d] [--batch-size n]
${SCHEDULES_USAGE}
${LIMITS_USAGE}

Environment: DATABASE_URL (required), REDIS_URL (default redis://127.0.0.1:6379),
CHRONOFORGE_SCHEMA (default public), CHRONOFORGE_QUEUE_NAME (default chronoforge),
CHRONOFORGE_QUEUE=postgres to use the PostgreSQL queue backend instead of Redis.
Behind a connection pooler: CHRONOFORGE_DB_POOLER=transaction|session and DATABASE_DIRECT_URL
(a direct connection for migrations and the PostgreSQL queue; see database.pooler/directUrl).
Add --json to list (and schedules list, limits list) for JSON output.`;

const OPTIONS = {
  workflow: { type: 'string' },
  state: { type: 'string' },
  key: { type: 'string' },
  attr: { type: 'string', multiple: true },
  before: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'older-than': { type: 'string' },
  'completed-older-than': { type: 'string' },
  'failed-older-than': { type: 'string' },
  'prune-repeat-ticks-older-than': { type: 'string' },
  'batch-size': { type: 'string' },
  reason: { type: 'string' },
  children: { type: 'boolean' },
  compensate: { type: 'boolean' },
  'no-compensate': { type: 'boolean' },
} as const;

const COMMANDS = [
  'migrate',
  'list',
  'show',
  'retry',
  'resume',
  'cancel',
  'compensate',
  'cleanup',
  'schedules',
  'versions',
  'export',
  'limits',
];

/** Boots ChronoForge without a worker, against the environment's database and queue. */
async function boot(env: NodeJS.ProcessEnv): Promise<INestApplicationContext> {
  if (!env.DATABASE_URL) throw new CliUsageError('DATABASE_URL is not set.');
  @Module({})
  class ChronoForgeCliModule {}
  const postgresQueue = env.CHRONOFORGE_QUEUE === 'postgres';
  return NestFactory.createApplicationContext(
    {
      module: ChronoForgeCliModule,
      imports: [
        ChronoForgeModule.forRoot({
          database: {
            url: env.DATABASE_URL,
            schema: env.CHRONOFORGE_SCHEMA || undefined,
            pooler: (env.CHRONOFORGE_DB_POOLER || undefined) as
              'transaction' | 'session' | undefined,
            directUrl: env.DATABASE_DIRECT_URL || undefined,
          },
          queue: postgresQueue
            ? { postgres: true }
            : { redis: { url: env.REDIS_URL || 'redis://127.0.0.1:6379' } },
          queueName: env.CHRONOFORGE_QUEUE_NAME || undefined,
          worker: false,
        }),
        ChronoForgeOperationsModule,
      ],
    },
    { logger: ['error', 'warn'] },
  );
}

/**
 * Pretty JSON whose control and bidi characters are all `\uXXXX` escapes (still valid JSON):
 * JSON.stringify leaves C1 controls and bidi overrides raw.
 */
const json = (value: unknown): string => escapeJsonControlChars(JSON.stringify(value, null, 2));

const int = (value: string | undefined, what: string): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliUsageError(`${what} must be a positive integer.`);
  return Number(value);
};

/** The `--attr` terms as a list filter; a malformed term is a usage error. */
function attributeFilter(terms: string[] | undefined): SearchAttributes | undefined {
  try {
    return parseAttributeTerms(terms, '--attr');
  } catch (err) {
    if (err instanceof SearchAttributeError) throw new CliUsageError(err.message);
    throw err;
  }
}

/** Runs one CLI command; returns the exit status (0 ok, 1 failure, 2 usage error). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let app: INestApplicationContext | undefined;
  try {
    const { values: o, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
    });
    const [command, key, ...rest] = positionals;
    if (o.help || command === undefined || command === 'help') {
      io.out(USAGE);
      return command === undefined && !o.help ? 2 : 0;
    }
    if (!COMMANDS.includes(command)) throw new CliUsageError(`Unknown command "${command}".`);
    if (command === 'schedules') {
      const args = parseSchedulesArgs(positionals.slice(1));
      app = await boot(io.env);
      await runSchedulesCommand(app.get(WorkflowClient).schedules, args, o, io.out);
      return 0;
    }
    if (command === 'limits') {
      const args = parseLimitsArgs(positionals.slice(1));
      app = await boot(io.env);
      await runLimitsCommand(app.get(WorkflowClient).limits, args, o, io.out);
      return 0;
    }
    if (rest.length > 0) throw new CliUsageError(`Unexpected argument "${rest[0]}".`);
    const needsKey = ['show', 'retry', 'resume', 'cancel', 'compensate', 'export'].includes(
      command,
    );
    if (command !== 'cancel' && (o.reason !== undefined || o.children || o.compensate))
      throw new CliUsageError('--reason, --children and --compensate are options of cancel.');
    if (o.compensate && o['no-compensate'])
      throw new CliUsageError('Give --compensate or --no-compensate, not both.');
    if (command !== 'list' && o.attr !== undefined)
      throw new CliUsageError('--attr is an option of list.');
    const attributes = attributeFilter(o.attr);
    if (needsKey && !key) throw new CliUsageError(`${command} needs a run key.`);
    if (!needsKey && key) throw new CliUsageError(`${command} takes no run key.`);
    app = await boot(io.env);
    const client = app.get(WorkflowClient);
    const selector = { workflow: o.workflow };
    switch (command) {
      case 'migrate':
        io.out('ChronoForge migrations are up to date.');
        break;
      case 'list': {
        const runs = await client.list({
          state: o.state as WorkflowState | undefined,
          workflow: o.workflow,
          keyPrefix: o.key,
          before: o.before,
          limit: int(o.limit, '--limit'),
          attributes,
        });
        if (o.json) io.out(json(runs));
        else
          for (const r of runs)
            io.out(
              // A key or name must not move the cursor, recolour the terminal or forge a row.
              [r.id, r.state, r.workflow, r.key, r.updatedAt.toISOString()]
                .concat(Object.keys(r.attributes).length > 0 ? formatAttributes(r.attributes) : [])
                .map(escapeControlChars)
                .join('\t'),
            );
        break;
      }
      case 'show':
        io.out(json(await client.get(key, selector)));
        break;
      case 'export':
        io.out(json(await client.export(key, selector)));
        break;
      case 'versions': {
        const versions = await client.versions();
        if (o.json) io.out(json(versions));
        else
          for (const v of versions)
            io.out(
              [v.workflow, v.version ?? '(none)', `${v.inFlight} in flight`, `${v.workers} workers`]
                .map(escapeControlChars)
                .join('\t'),
            );
        break;
      }
      case 'retry':
      case 'resume':
      case 'compensate':
        await client[command](key, selector);
        io.out(`${command}: ${escapeControlChars(key)} ok`);
        break;
      case 'cancel': {
        const compensate = o.compensate ? true : o['no-compensate'] ? false : undefined;
        await client.cancel(key, {
          ...selector,
          reason: o.reason,
          children: o.children,
          compensate,
        });
        io.out(`cancel: ${escapeControlChars(key)} ok`);
        break;
      }
      case 'cleanup': {
        const d = (name: keyof typeof o) => o[name] as Duration | undefined;
        const result = await app.get(Cleanup).run({
          olderThan: d('older-than'),
          completedOlderThan: d('completed-older-than'),
          failedOlderThan: d('failed-older-than'),
          pruneRepeatTicksOlderThan: d('prune-repeat-ticks-older-than'),
          batchSize: int(o['batch-size'], '--batch-size'),
        });
        io.out(JSON.stringify(result));
        break;
      }
    }
    return 0;
  } catch (err) {
    const usage =
      err instanceof CliUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    // A driver's message or stack may quote the connection string: never print its credentials.
    io.err(
      escapeControlChars(
        redactUrl(`chronoforge: ${err instanceof Error ? err.message : String(err)}`),
      ),
    );
    if (usage) io.err(USAGE);
    if (!usage && !(err instanceof ChronoForgeError) && err instanceof Error && err.stack)
      io.err(escapeControlChars(redactUrl(err.stack)));
    return usage ? 2 : 1;
  } finally {
    await app?.close();
  }
}
