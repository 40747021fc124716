import type { Kill } from './limit-invariants.js';
import type { chaosServices } from './services.js';
import type { ChaosWorkerPool } from './worker-pool.js';

/** Mean delay between two SIGKILLs. */
const KILL_EVERY_MS = 2_500;
/**
 * Faults happen in the first 75 % of the window (the last Redis restart at 65 %); the rest lets
 * replacement workers boot. A merge poller lost to a fault is only noticed by the parent's safety
 * timer about 60 s later (see BranchRunner.merge), which bounds the drain from below.
 */
const KILLS_UNTIL = 0.75;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rand = (min: number, max: number) => min + Math.random() * (max - min);

/** What the fault schedule did: counts, outages ([from, to] in ms since epoch) and kills. */
export interface ChaosFaultLog {
  stats: { kills: number; redisRestarts: number; pgRestarts: number };
  pgOutages: Array<[number, number | undefined]>;
  redisOutages: Array<[number, number | undefined]>;
  kills: Kill[];
}

export function newFaultLog(): ChaosFaultLog {
  return {
    stats: { kills: 0, redisRestarts: 0, pgRestarts: 0 },
    pgOutages: [],
    redisOutages: [],
    kills: [],
  };
}

/**
 * The fault schedule of a chaos window of `chaosMs` from `t0`: SIGKILLs of random ready workers
 * (each replaced) until 75 %, Redis restarts at 15 % and 65 %, PostgreSQL at 40 %.
 */
export async function runFaults(o: {
  t0: number;
  chaosMs: number;
  services: ReturnType<typeof chaosServices>;
  pool: ChaosWorkerPool;
  event: (what: string) => void;
  log: ChaosFaultLog;
}): Promise<void> {
  const { t0, chaosMs, services, pool, event, log } = o;
  const redisRestart = async (): Promise<void> => {
    const outage: [number, number | undefined] = [Date.now(), undefined];
    log.redisOutages.push(outage);
    try {
      await services.restartRedis(800);
      log.stats.redisRestarts++;
    } finally {
      outage[1] = Date.now() + 2_000;
    }
  };
  const faults: Array<{ at: number; what: string; run: () => Promise<void> }> = [
    { at: 0.15, what: 'Redis restart', run: redisRestart },
    {
      at: 0.4,
      what: 'PostgreSQL restart',
      run: async () => {
        const outage: [number, number | undefined] = [Date.now(), undefined];
        log.pgOutages.push(outage);
        try {
          await services.restartPostgres(1_500);
          log.stats.pgRestarts++;
        } finally {
          // Workers that were booting meanwhile may still fail a moment after it is back.
          outage[1] = Date.now() + 5_000;
        }
      },
    },
    { at: 0.65, what: 'Redis restart', run: redisRestart },
  ];
  const faultLoop = (async () => {
    for (const fault of faults) {
      const wait = t0 + fault.at * chaosMs - Date.now();
      if (wait > 0) await sleep(wait);
      event(`${fault.what}: begin`);
      await fault.run();
      event(`${fault.what}: end`);
    }
  })();
  const killLoop = (async () => {
    while (Date.now() - t0 < KILLS_UNTIL * chaosMs) {
      await sleep(rand(0.5, 1.5) * KILL_EVERY_MS);
      if (Date.now() - t0 >= KILLS_UNTIL * chaosMs) break;
      // SIGKILL a random worker that is up, keeping at least one other up so the runs move on.
      const ready = pool.ready();
      if (ready.length < 2) {
        event(`kill skipped: ${ready.length} worker(s) up`);
        continue;
      }
      const victim = ready[Math.floor(Math.random() * ready.length)];
      victim.killed = true;
      victim.proc.kill('SIGKILL');
      log.kills.push({ pid: victim.proc.pid!, at: Date.now() });
      log.stats.kills++;
      event(`SIGKILL ${victim.id} (pid ${victim.proc.pid})`);
      pool.spawn();
    }
  })();
  await Promise.all([faultLoop, killLoop]);
}
