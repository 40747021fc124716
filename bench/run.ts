import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { writeProbe } from './write-probe.js';
import { cleanupBench } from './cleanup.bench.js';
import { fanInBench } from './fanin.bench.js';
import { limitsBench } from './limits.bench.js';
import { perStepBench } from './per-step.bench.js';
import { positionsBench } from './positions.bench.js';
import { repeatCatchUpBench } from './repeat-catchup.bench.js';
import { replayBench } from './replay.bench.js';
import { scaleOutBench } from './scaleout.bench.js';
import { spawnBench } from './spawn.bench.js';
import { startLatencyBench } from './start-latency.bench.js';
import { grossRegressions, loadNow, summaryLine } from './summary.js';
import { transactionalBench } from './transactional.bench.js';
import { type BenchResult, type BenchRow, fmt, REDIS_URL, SCALE, sql } from './support.js';
import { throughputBench } from './throughput.bench.js';
import { wakeUpBench } from './wakeup.bench.js';

const BENCHES: Array<[string, () => Promise<BenchResult>]> = [
  ['per-step', perStepBench],
  ['throughput', throughputBench],
  ['start-latency', startLatencyBench],
  ['scaleout', scaleOutBench],
  ['wakeup', wakeUpBench],
  ['replay', replayBench],
  ['positions', positionsBench],
  ['repeat', repeatCatchUpBench],
  ['transactional', transactionalBench],
  ['spawn', spawnBench],
  ['cleanup', cleanupBench],
  ['limits', limitsBench],
  ['fanin', fanInBench],
];

const HEADER = [
  'bench',
  'measured',
  'baseline',
  'ratio',
  'goal',
  'met?',
  'PG statements / step',
  'PG round trips / step',
];

function table(rows: BenchRow[]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(HEADER),
    line(HEADER.map(() => '---')),
    ...rows.map((r) =>
      line([r.name, r.measured, r.baseline, r.ratio, r.goal, r.met, r.statements, r.roundTrips]),
    ),
  ].join('\n');
}

/** The code measured: BENCH_COMMIT, or the checkout's HEAD (flagging uncommitted lib/ changes). */
function revision(): string {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
    const dirty = git('status', '--porcelain', '--', 'lib', 'migrations') !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted lib/ changes' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function machine(load: number[], code: string): Promise<string[]> {
  const cpus = os.cpus();
  const [pgRow] = await sql<{ version: string }>('SELECT version()');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const info = await redis.info('server');
  await redis.quit();
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  return [
    `- CPU: ${cpus.length} × ${cpus[0]?.model ?? '?'}${cpus[0]?.speed ? ` (${cpus[0].speed} MHz)` : ''}`,
    `- memory: ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version}; ${pgRow.version.split(' on ')[0]}; Redis ${redisVersion} (both local, TCP)`,
    `- load average (1 min) at start / end: ${load.map((l) => fmt(l)).join(' / ')} ` +
      '(other processes share this machine and its PostgreSQL)',
    `- code: ${code}`,
    `- ${await writeProbe()}`,
  ];
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const only = process.env.BENCH_ONLY?.split(',');
  const started = Date.now();
  const load = [os.loadavg()[0]];
  const code = revision();
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  let failed = false;
  const summaries: string[] = [];
  for (const [name, bench] of BENCHES) {
    if (only && !only.includes(name)) continue;
    const t0 = Date.now();
    process.stdout.write(`running ${name} … (load ${loadNow()})\n`);
    try {
      let result = await bench().catch(async (err: unknown) => {
        // One retry: a shared PostgreSQL/Redis restarted by another suite kills a benchmark run.
        process.stderr.write(`${name} failed, retrying once: ${(err as Error).message}\n`);
        const retried = await bench();
        retried.notes.push(`${name}: first attempt failed (${(err as Error).message}); retried.`);
        return retried;
      });
      let load = loadNow();
      const gross = grossRegressions(result.rows);
      if (gross.length > 0) {
        // One retry of a grossly regressed bench: a burst of load from another process is not one.
        const first = gross.map((r) => summaryLine(r, load));
        process.stdout.write(`gross regression, retrying ${name} once:\n${first.join('\n')}\n`);
        result = await bench();
        load = loadNow();
        result.notes.push(`${name}: retried after a gross regression: ${first.join('; ')}`);
      }
      if (grossRegressions(result.rows).length > 0) failed = true;
      rows.push(...result.rows);
      notes.push(...result.notes.map((n) => `- ${n}`));
      summaries.push(...result.rows.map((r) => summaryLine(r, load)));
      process.stdout.write(`${table(result.rows)}\n(${fmt((Date.now() - t0) / 1000, 1)} s)\n\n`);
    } catch (err) {
      failed = true;
      const message = (err as Error).stack ?? String(err);
      process.stderr.write(`${name} failed: ${message}\n`);
      const row: BenchRow = {
        name,
        measured: 'error',
        baseline: '',
        ratio: '',
        goal: '',
        met: 'no',
        statements: '',
        roundTrips: '',
      };
      rows.push(row);
      summaries.push(summaryLine(row, loadNow()));
      notes.push(`- ${name} failed: ${(err as Error).message}`);
    }
  }
  const totalS = (Date.now() - started) / 1000;
  load.push(os.loadavg()[0]);
  const md = [
    '# ChronoForge benchmarks',
    '',
    `Generated by \`npm run bench\` on ${new Date().toISOString()}` +
      (SCALE !== 1 ? ` with BENCH_SCALE=${SCALE}` : '') +
      (only ? ` (only: ${only.join(', ')})` : '') +
      `; total runtime ${fmt(totalS, 1)} s.`,
    '',
    table(rows),
    '',
    '## Machine',
    '',
    ...(await machine(load, code)),
    '',
    '## Notes and evidence',
    '',
    ...notes,
    '',
  ].join('\n');
  process.stdout.write(
    `\n${table(rows)}\n\n${summaries.join('\n')}\n\ntotal ${fmt(totalS, 1)} s\n`,
  );
  // BENCH_OUT: write elsewhere (a partial run, BENCH_ONLY, should not replace the full results).
  const out =
    process.env.BENCH_OUT ?? fileURLToPath(new URL('../../bench/RESULTS.md', import.meta.url));
  await writeFile(out, md);
  process.stdout.write(`wrote ${out}\n`);
  if (failed) process.stdout.write('FAILED: a bench errored or regressed grossly (see SUMMARY)\n');
  process.exit(failed ? 1 : 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
