import { type CliIo, runCli } from '../../lib/cli/cli.js';
import { DATABASE_URL, REDIS_URL, uniqueName } from './env.js';

/** What one CLI call printed. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** `cli(...argv)`: runs the `chronoforge` CLI in-process on this schema and queue, capturing its output. */
export function cliRunner(
  schema: string,
  queueName: string,
): (...argv: string[]) => Promise<CliResult> {
  const env = {
    DATABASE_URL,
    REDIS_URL,
    CHRONOFORGE_SCHEMA: schema,
    CHRONOFORGE_QUEUE_NAME: queueName,
    CHRONOFORGE_QUEUE: process.env.CF_QUEUE === 'postgres' ? 'postgres' : 'redis',
    // npm run test:topology: DATABASE_URL is a transaction pooler.
    CHRONOFORGE_DB_POOLER: process.env.CHRONOFORGE_DB_POOLER ?? '',
    DATABASE_DIRECT_URL: process.env.DATABASE_DIRECT_URL ?? '',
  };
  const cli = async (...argv: string[]): Promise<CliResult> => {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), env };
    return { code: await runCli(argv, io), out, err };
  };
  return cli;
}

/** A CLI e2e suite's own schema and queue name, and a {@link cliRunner} on them. */
export function cliSuite(prefix: string): {
  schema: string;
  queueName: string;
  cli: (...argv: string[]) => Promise<CliResult>;
} {
  const schema = uniqueName(`cf_${prefix}`);
  const queueName = uniqueName(`q_${prefix}`);
  return { schema, queueName, cli: cliRunner(schema, queueName) };
}
