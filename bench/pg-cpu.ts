import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** CPU time (user + system, ms) so far of each `postgres` process on this machine, by pid. */
export type PostgresCpu = Map<string, number>;

/**
 * The CPU time `postgres` processes spent since `before` (ms): each live process's time since
 * then (all of it for one started since). A process that exited meanwhile is not counted (its last
 * stretch is lost: a slight undercount; the bench's pools keep their backends while it measures).
 * Other databases' activity on the machine counts too, so read it with the load average.
 * `undefined` where there is no `/proc` (not Linux).
 */
export function postgresCpuSince(before: PostgresCpu | undefined): number | undefined {
  const now = postgresCpu();
  if (!before || !now) return undefined;
  let ms = 0;
  for (const [pid, t] of now) ms += t - (before.get(pid) ?? 0);
  return ms;
}

/** Each `postgres` process's CPU time so far, from `/proc/<pid>/stat`; `undefined` off Linux. */
export function postgresCpu(): PostgresCpu | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return undefined;
  }
  const cpu: PostgresCpu = new Map();
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    // Fields after "(comm) ": state is [0]; utime and stime are fields 14 and 15 of the line.
    const fields = stat.slice(close + 2).split(' ');
    cpu.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond);
  }
  return cpu;
}
