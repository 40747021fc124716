import type { WorkflowLimits } from '../limits/workflow-limits.js';
import type { LimitDefinition } from '../options/limit-options.interface.js';
import { CliUsageError } from '../errors/cli-usage.error.js';
import { escapeControlChars, escapeJsonControlChars } from '../util/control-chars.util.js';

/** Usage lines of `chronoforge limits`. */
export const LIMITS_USAGE = `  limits [list] [--json]       name, definition in force (override or declared), held, waiting
  limits show <name>           a limit with its holders and waiters (JSON)`;

/** A parsed `limits …` command line. */
export interface LimitsArgs {
  sub: 'list' | 'show';
  name?: string;
}

/** Checks the positionals after `limits`; throws `CliUsageError` on a bad command line. */
export function parseLimitsArgs(positionals: string[]): LimitsArgs {
  const [sub = 'list', name, extra] = positionals;
  if (sub !== 'list' && sub !== 'show') throw new CliUsageError(`Unknown limits command "${sub}".`);
  if (extra !== undefined) throw new CliUsageError(`Unexpected argument "${extra}".`);
  if (sub === 'list' && name !== undefined) throw new CliUsageError('limits list takes no name.');
  if (sub === 'show' && name === undefined)
    throw new CliUsageError('limits show needs a limit name.');
  return { sub, name };
}

/** `concurrency=2 rate=3/1000ms,100/60000ms` (`-` for none). */
function describeLimit(def: LimitDefinition | null): string {
  if (!def) return '-';
  const parts: string[] = [];
  if (def.concurrency !== undefined) parts.push(`concurrency=${def.concurrency}`);
  const rate = def.rate === undefined ? [] : Array.isArray(def.rate) ? def.rate : [def.rate];
  if (rate.length > 0) parts.push(`rate=${rate.map((w) => `${w.limit}/${w.per}ms`).join(',')}`);
  return parts.join(' ');
}

/** Runs a parsed `limits …` command against `limits` (`client.limits`). */
export async function runLimitsCommand(
  limits: WorkflowLimits,
  args: LimitsArgs,
  options: { json?: boolean },
  out: (text: string) => void,
): Promise<void> {
  const json = (value: unknown) => out(escapeJsonControlChars(JSON.stringify(value, null, 2)));
  if (args.sub === 'show') return json(await limits.get(args.name as string));
  const all = await limits.list();
  if (options.json) return json(all);
  for (const l of all) {
    const source = l.override ? 'override' : 'declared';
    const cells = [
      l.name,
      describeLimit(l.effective),
      source,
      `held=${l.holders.length}`,
      `waiting=${l.waiting.length}`,
    ];
    out(cells.map(escapeControlChars).join('\t'));
  }
}
