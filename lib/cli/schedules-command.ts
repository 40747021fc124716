import type { ScheduleClient } from '../client/schedule.client.js';
import { CliUsageError } from '../errors/cli-usage.error.js';
import { escapeControlChars, escapeJsonControlChars } from '../util/control-chars.util.js';

/** Usage lines of `chronoforge schedules`. */
export const SCHEDULES_USAGE = `  schedules [list] [--workflow w] [--json]
                               name, state, workflow, cron, time zone, next tick, last run
  schedules show <name>        a schedule with its next ticks, last run, counters, missed ticks (JSON)
  schedules pause|resume|trigger <name>
                               stop or restart its ticks; start a run now (prints its key)`;

const SUBCOMMANDS = ['list', 'show', 'pause', 'resume', 'trigger'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** A parsed `schedules …` command line. */
export interface SchedulesArgs {
  sub: Subcommand;
  name?: string;
}

/** Checks the positionals after `schedules`; throws `CliUsageError` on a bad command line. */
export function parseSchedulesArgs(positionals: string[]): SchedulesArgs {
  const [sub = 'list', name, extra] = positionals;
  if (!(SUBCOMMANDS as readonly string[]).includes(sub))
    throw new CliUsageError(`Unknown schedules command "${sub}".`);
  if (extra !== undefined) throw new CliUsageError(`Unexpected argument "${extra}".`);
  if (sub === 'list' && name !== undefined)
    throw new CliUsageError('schedules list takes no name.');
  if (sub !== 'list' && name === undefined)
    throw new CliUsageError(`schedules ${sub} needs a schedule name.`);
  return { sub: sub as Subcommand, name };
}

/** Runs a parsed `schedules …` command against `schedules` (`client.schedules`). */
export async function runSchedulesCommand(
  schedules: ScheduleClient,
  args: SchedulesArgs,
  options: { workflow?: string; json?: boolean },
  out: (text: string) => void,
): Promise<void> {
  const json = (value: unknown) => out(escapeJsonControlChars(JSON.stringify(value, null, 2)));
  const name = args.name as string;
  switch (args.sub) {
    case 'list': {
      const all = await schedules.list({ workflow: options.workflow });
      if (options.json) return json(all);
      for (const s of all) {
        const cells = [
          s.name,
          s.state,
          s.workflow,
          s.cron,
          s.timeZone,
          s.nextTicks[0]?.toISOString() ?? '-',
          s.lastRun ? `${s.lastRun.state ?? 'deleted'} ${s.lastRun.key}` : '-',
        ];
        out(cells.map(escapeControlChars).join('\t'));
      }
      return;
    }
    case 'show':
      return json(await schedules.get(name));
    case 'trigger':
      return out(escapeControlChars(await schedules.trigger(name)));
    case 'pause':
    case 'resume':
      await schedules[args.sub](name);
      return out(`${args.sub}: ${escapeControlChars(name)} ok`);
  }
}
