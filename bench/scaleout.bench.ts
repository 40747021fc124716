import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { type ScaleReport, ScaleWork, ScaleWorkflow } from './scaleout-worker.main.js';
import {
  type BenchResult,
  type BenchRow,
  bootBench,
  DATABASE_URL,
  fmt,
  inParallel,
  now,
  percentile,
  scaled,
  sleep,
  uniqueName,
  within,
} from './support.js';
import { loadNow } from './summary.js';

const PROCESSES = [1, 2, 4];
const CONCURRENCY = 16;
const STARTERS = 8;
const APP_POOL = 10;
const TIMEOUT_MS = 180_000;

interface Worker {
  proc: ChildProcess;
  ask<T>(msg: string, reply: (m: unknown) => T | undefined): Promise<T>;
}

/** Forks bench/scaleout-worker.main.js (compiled next to this file) and waits for `ready`. */
async function fork1(env: Record<string, string>): Promise<Worker> {
  const script = new URL('./scaleout-worker.main.js', import.meta.url);
  const proc = fork(script.pathname, { env: { ...process.env, ...env }, stdio: 'pipe' });
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const ask = <T>(msg: string, reply: (m: unknown) => T | undefined): Promise<T> => {
    const p = new Promise<T>((resolve, reject) => {
      const on = (m: unknown) => {
        const r = reply(m);
        if (r === undefined) return;
        proc.off('message', on);
        resolve(r);
      };
      proc.on('message', on);
      proc.once('exit', () => reject(new Error(`scale-out worker exited:\n${err}`)));
    });
    if (msg) proc.send(msg);
    return within(p, 60_000, `scale-out worker reply to "${msg}"`);
  };
  await ask('', (m) => (m === 'ready' ? true : undefined));
  return { proc, ask };
}

/** CPU time (ms) a local PostgreSQL backend has used, from /proc (0 when unreadable). */
function backendCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

/** pg_stat_activity of this bench's processes, sampled every 100 ms, and their backends' CPU. */
function sampler(probe: pg.Client, prefix: string) {
  const cpuAtStart = new Map<number, number>();
  const peaks = { engine: 0, app: 0 };
  const sums = { engine: 0, app: 0, engineActive: 0, appActive: 0, n: 0 };
  let on = true;
  const loop = (async () => {
    while (on) {
      const { rows } = await probe.query<{
        kind: string;
        total: string;
        active: string;
        pids: number[];
      }>(
        `SELECT split_part(application_name, '_', 3) AS kind, count(*) AS total,
                count(*) FILTER (WHERE state = 'active') AS active, array_agg(pid) AS pids
         FROM pg_stat_activity WHERE application_name LIKE $1 GROUP BY 1`,
        [`${prefix}_%`],
      );
      for (const pid of rows.flatMap((r) => r.pids))
        if (!cpuAtStart.has(pid)) cpuAtStart.set(pid, backendCpuMs(pid));
      const get = (k: string) => rows.find((r) => r.kind === k);
      const [e, a] = [get('engine'), get('app')];
      peaks.engine = Math.max(peaks.engine, Number(e?.total ?? 0));
      peaks.app = Math.max(peaks.app, Number(a?.total ?? 0));
      sums.engine += Number(e?.total ?? 0);
      sums.app += Number(a?.total ?? 0);
      sums.engineActive += Number(e?.active ?? 0);
      sums.appActive += Number(a?.active ?? 0);
      sums.n++;
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      on = false;
      await loop;
      const mean = (v: number) => v / Math.max(1, sums.n);
      let backendMs = 0;
      for (const [pid, at] of cpuAtStart) backendMs += Math.max(0, backendCpuMs(pid) - at);
      return {
        backendMs,
        peaks,
        mean: {
          engine: mean(sums.engine),
          app: mean(sums.app),
          engineActive: mean(sums.engineActive),
          appActive: mean(sums.appActive),
        },
      };
    },
  };
}

async function completed(probe: pg.Client, schema: string): Promise<number> {
  const { rows } = await probe.query<{ c: string }>(
    `SELECT count(*) AS c FROM "${schema}".chrono_forge_workflows WHERE state = 'completed'`,
  );
  return Number(rows[0].c);
}

async function waitCompleted(probe: pg.Client, schema: string, n: number): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while ((await completed(probe, schema)) < n) {
    if (Date.now() > deadline) throw new Error(`scale-out: ${n} runs did not complete`);
    await sleep(20);
  }
}

/** One point of the curve: `procs` worker processes run `n` three-step workflows. */
async function point(probe: pg.Client, table: string, procs: number, n: number, warm: number) {
  // Client-only (worker: false): it starts the runs; its ScaleWork pool is never used.
  const bench = await bootBench({
    prefix: `so${procs}`,
    providers: [ScaleWork, ScaleWorkflow],
    concurrency: 0,
  });
  const prefix = uniqueName('cfs').replace(/_/g, '');
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < procs; i++)
      workers.push(
        await fork1({
          BENCH_SCHEMA: bench.schema,
          BENCH_QUEUE: bench.queueName,
          BENCH_CONCURRENCY: String(CONCURRENCY),
          BENCH_TABLE: table,
          BENCH_APP: `${prefix}_w${i}`,
          BENCH_APP_POOL: String(APP_POOL),
        }),
      );
    let started = 0;
    const batch = async (count: number) => {
      const t0 = now();
      await inParallel(count, STARTERS, async () => {
        await bench.client.start('bench.scale', { key: `k${started++}` });
      });
      await waitCompleted(probe, bench.schema, started);
      return now() - t0;
    };
    await batch(warm);
    await Promise.all(workers.map((w) => w.ask('reset', (m) => m === 'reset-done' || undefined)));
    const load = loadNow();
    const samples = sampler(probe, prefix);
    const ms = await batch(n);
    const conns = await samples.stop();
    const reports = await Promise.all(
      workers.map((w) =>
        w.ask('report', (m) => (m as { report?: ScaleReport }).report ?? undefined),
      ),
    );
    const lat = reports.flatMap((r) => r.latencies);
    const cpuMs = reports.reduce((s, r) => s + r.cpuMs, 0);
    return {
      wfs: (n / ms) * 1000,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      conflicts: reports.reduce((s, r) => s + r.lockConflicts, 0),
      conns,
      // Worker processes' and their PostgreSQL backends' CPU over the batch, as a share of the
      // machine's cores.
      cpu: cpuMs / ms / os.cpus().length,
      pgCpu: conns.backendMs / ms / os.cpus().length,
      load,
      steps: lat.length,
    };
  } finally {
    await Promise.all(
      workers.map(async (w) => {
        const gone = new Promise((r) => w.proc.once('exit', r));
        w.proc.send('stop');
        await Promise.race([gone, sleep(15_000)]);
        if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
      }),
    );
    await bench.app.get(ScaleWork).pool.end();
    await bench.close();
  }
}

/** Scale-out curve: 1, 2 and 4 worker processes on the throughput bench's workload. */
export async function scaleOutBench(): Promise<BenchResult> {
  const n = scaled(2000, 100);
  const warm = Math.max(40, Math.round(n / 10));
  const probe = new pg.Client({ connectionString: DATABASE_URL });
  await probe.connect();
  const schema = uniqueName('bench_sowork');
  const table = `"${schema}".work`;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  try {
    await probe.query(`CREATE SCHEMA "${schema}"`);
    await probe.query(`CREATE TABLE ${table} (key text NOT NULL, step text NOT NULL)`);
    let one = 0;
    for (const procs of PROCESSES) {
      const m = await point(probe, table, procs, n, warm);
      if (procs === 1) one = m.wfs;
      const c = m.conns;
      rows.push({
        name: `scale-out: ${procs} worker process${procs > 1 ? 'es' : ''} × concurrency ${CONCURRENCY}, ${n} three-step workflows (load ${m.load})`,
        measured:
          `${fmt(m.wfs, 0)} wf/s; step p50 ${fmt(m.p50, 1)} / p99 ${fmt(m.p99, 1)} ms; ` +
          `${m.conflicts} lock conflicts; PG connections peak ${c.peaks.engine} engine + ` +
          `${c.peaks.app} app`,
        baseline: `1 process: ${fmt(one, 0)} wf/s`,
        ratio: `${fmt(m.wfs / one)}×`,
        goal: 'reported (scale-out curve)',
        met: 'n/a',
        statements: '',
        roundTrips: '',
      });
      notes.push(
        `scale-out ${procs} process(es): ${m.steps} steps timed (call → checkpointed result); ` +
          `PG connections mean ${fmt(c.mean.engine, 1)} engine (${fmt(c.mean.engineActive, 1)} ` +
          `active) + ${fmt(c.mean.app, 1)} app (${fmt(c.mean.appActive, 1)} active), peak ` +
          `${c.peaks.engine} + ${c.peaks.app}; CPU of the machine's ${os.cpus().length} cores: ` +
          `worker processes ${fmt(m.cpu * 100, 0)}%, their PostgreSQL backends ` +
          `${fmt(m.pgCpu * 100, 0)}%; load ${m.load}.`,
      );
    }
    notes.push(
      `scale-out: each worker process: engine pool (database.poolSize default 10), its own ` +
        `dedicated connections (heartbeat, wake listener), and the application's pool (max ` +
        `${APP_POOL}); connections counted in pg_stat_activity by application_name every 100 ms ` +
        `during the measured batch; ${STARTERS} callers start the runs from a client-only process.`,
    );
    return { rows, notes };
  } finally {
    await probe.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await probe.end();
  }
}
