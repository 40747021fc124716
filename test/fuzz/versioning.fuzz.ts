import { Injectable } from '@nestjs/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Branch, TestClock, Workflow, WorkflowContext, WorkflowWorker } from '../../lib/index.js';
import { eventually, QUEUE_BACKEND } from '../support/env.js';
import { suiteApp } from '../support/suite.js';
import { WorkflowStore } from '../../lib/persistence/workflow.store.js';
import { countGroupCommits, groupStats } from './group-stats.js';
import {
  expectedOutcome,
  type Outcome,
  programArbitrary,
  type VProgram,
  type VStmt,
} from './versioning-programs.js';

/**
 * The versioning shape of the generative suite (`npm run test:fuzz`): random programs of steps,
 * `Promise.all`s, parallel chains (racing calls), a branch and `ctx.patched`, recorded by one code
 * version up to a timer, then resumed by a changed one — a deploy while the runs sleep — and
 * checked against the reference model of versioning-programs.ts: a change of the recorded calls
 * stalls the run with a `NonDeterminismError` naming them and runs no new body (but a renamed
 * racing call's, once); no change, a patch, a change inside the sealed branch's body or after the
 * timer completes with the model's result, each body once. FUZZ_RUNS programs (default 60; this
 * shape runs a tenth of FUZZ_RUNS when that is above 600), FUZZ_SEED replays a failure.
 */

const RUNS = (() => {
  const runs = Number(process.env.FUZZ_RUNS ?? 60);
  return runs > 600 ? Math.ceil(runs / 10) : runs;
})();
const SEED =
  process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);

/** The program of each run key, and the version deployed for it. */
const programs = new Map<string, { program: VProgram; deployed: 'v1' | 'v2' }>();
/** Step bodies that ran, by run key. */
const bodies = new Map<string, string[]>();

@Injectable()
class VersioningFuzzWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  private step(name: string): Promise<string> {
    const key = this.ctx.key;
    return this.ctx.step(name, () => {
      bodies.set(key, [...(bodies.get(key) ?? []), name]);
      return name;
    });
  }

  @Workflow('vfuzz.run')
  async run(): Promise<string[]> {
    const entry = programs.get(this.ctx.key);
    if (!entry) throw new Error(`no program for ${this.ctx.key}`);
    const out: string[] = [];
    for (const s of entry.program[entry.deployed]) out.push(...(await this.exec(s)));
    return out;
  }

  private async exec(s: VStmt): Promise<string[]> {
    switch (s.k) {
      case 'step':
        return [await this.step(s.name)];
      case 'all':
        return Promise.all(s.names.map((n) => this.step(n)));
      case 'chains': {
        const chain = async (names: string[]) => {
          const done: string[] = [];
          for (const n of names) done.push(await this.step(n));
          return done;
        };
        return (await Promise.all(s.chains.map(chain))).flat();
      }
      case 'branch':
        await this.fan(s.names);
        return [];
      case 'patched':
        return this.ctx.patched(s.id) ? [await this.step(s.name)] : [];
      case 'pause':
        await this.ctx.sleep('1h', 'pause');
        return [];
    }
  }

  @Branch({ automerge: true })
  async fan(names: string[]): Promise<void> {
    for (const n of names) await this.step(n);
  }
}

/** The invariants a run of `program` broke, given what it ended as (empty: none). */
function broken(
  outcome: Outcome,
  run: {
    state: string;
    result: unknown;
    errors: Array<{ errorClass: string; message: string | null }>;
    steps: Array<{ name: string; state: string; attempts: number }>;
  },
  ran: string[],
): string[] {
  const problems: string[] = [];
  const once = new Set(ran).size === ran.length;
  if (!once) problems.push(`a body ran twice: ${ran.join(', ')}`);
  if (run.state !== outcome.state) problems.push(`ended ${run.state}, model says ${outcome.state}`);
  // The pause's log: completed by the pass that reached it (or by its acquire: wake at acquire),
  // pending as it was when no pass reached it (an acquire that completed it put it back).
  const pause = run.steps.find((st) => st.name === 'wait$pause');
  const reached = outcome.state === 'completed';
  if (pause?.state !== (reached ? 'completed' : 'pending') || pause.attempts !== (reached ? 2 : 1))
    problems.push(
      `the pause is ${pause ? `${pause.state} (${pause.attempts} attempts)` : 'absent'}; the ` +
        `replay ${reached ? 'reached it: completed, 2' : 'never reached it: pending, 1'} expected`,
    );
  if (outcome.state === 'completed') {
    if (JSON.stringify(run.result) !== JSON.stringify(outcome.result))
      problems.push(
        `result ${JSON.stringify(run.result)}, model ${JSON.stringify(outcome.result)}`,
      );
    if (JSON.stringify([...ran].sort()) !== JSON.stringify([...outcome.bodies].sort()))
      problems.push(`bodies ${ran.join(', ')}, model ${outcome.bodies.join(', ')}`);
  } else {
    const error = run.errors.find((e) => e.errorClass === 'NonDeterminismError');
    if (!error) problems.push('no NonDeterminismError recorded');
    for (const name of outcome.names)
      if (!error?.message?.includes(name)) problems.push(`the error does not name ${name}`);
    const extra = ran.filter((b) => !outcome.mayRun.includes(b));
    if (extra.length) problems.push(`bodies ran that must not: ${extra.join(', ')}`);
  }
  return problems;
}

describe(`fuzz: versioning, code changed between passes (${QUEUE_BACKEND} queue)`, () => {
  const clock = new TestClock();
  const suite = suiteApp('vfuzz', [VersioningFuzzWorkflows], {
    clock,
    afterBoot: (app) => countGroupCommits(app.get(WorkflowStore)),
  });

  it('every run ends as the versioning model says', async () => {
    const generated = fc.sample(programArbitrary(), { seed: SEED, numRuns: RUNS });
    const keys = generated.map((program, i) => {
      const key = `v-${SEED}-${i}`;
      programs.set(key, { program, deployed: 'v1' });
      return key;
    });
    for (const key of keys) await suite.client.start('vfuzz.run', { key });
    const asleep = async (key: string) => {
      const run = await suite.client.get(key);
      return run.state === 'idle' && run.steps.some((s) => s.name === 'wait$pause');
    };
    await eventually(
      async () => (await Promise.all(keys.map(asleep))).every(Boolean),
      240_000,
      'every run asleep at its pause',
    );
    for (const key of keys) programs.get(key)!.deployed = 'v2';
    clock.advance(3600_000 + 1);
    await suite.app.get(WorkflowWorker).sweep();
    const ended = async (key: string) =>
      ['completed', 'stalled', 'failed'].includes((await suite.client.get(key)).state);
    await eventually(
      async () => (await Promise.all(keys.map(ended))).every(Boolean),
      240_000,
      'every run ended',
    );
    const failures: string[] = [];
    for (const [i, key] of keys.entries()) {
      const run = await suite.client.get(key);
      const problems = broken(expectedOutcome(generated[i]), run, bodies.get(key) ?? []);
      if (problems.length)
        failures.push(`${key}: ${problems.join('; ')}\n  program: ${JSON.stringify(generated[i])}`);
    }
    const changes = new Map<string, number>();
    for (const p of generated) changes.set(p.change.k, (changes.get(p.change.k) ?? 0) + 1);
    const stalls = generated.filter((p) => expectedOutcome(p).state === 'stalled').length;
    console.log(
      `FUZZ versioning: changes ${[...changes].map(([k, n]) => `${k} ${n}`).join(', ')}; ${stalls} must stall`,
    );
    console.log(
      `FUZZ versioning: ${keys.length - failures.length}/${keys.length} programs passed (FUZZ_SEED=${SEED}); ` +
        `pauses completed by the acquire ${groupStats.wokenAtAcquire}, put back ${groupStats.putBack}`,
    );
    expect(failures, `FUZZ_SEED=${SEED} replays this run`).toEqual([]);
  });
});
