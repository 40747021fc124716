import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Batch } from '../fuzz/harness.js';

type Harness = typeof import('../fuzz/harness.js');

/** The fuzz harness with the given knobs (it reads them when its module loads). */
async function harness(env: Record<string, string>): Promise<Harness> {
  vi.resetModules();
  vi.unstubAllEnvs();
  vi.stubEnv('FUZZ_BATCH', '8');
  vi.stubEnv('FUZZ_SHRINK_SECONDS', '30');
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  return import('../fuzz/harness.js');
}

/** A deterministic "engine defect": any batch with a top-level loop fails. */
const hasLoop = (b: Batch) => b.programs.some((p) => p.body.some((s) => s.k === 'loop'));
const describeBatch = (b: Batch) => JSON.stringify(b);

/**
 * Replaying a fuzz failure (issue 15: "a failure prints its seed and the shrunk program"). A shrunk
 * path (`0:1:…`) makes fast-check ignore `numRuns` and go on with the path's shrink siblings, each
 * a full batch of programs in the real suite: replays ran for 20+ minutes, printing nothing. A
 * replay must run exactly the batch at the path, once, and report.
 */
describe('fuzz replay (FUZZ_SEED + FUZZ_PATH)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('runs exactly the one batch at a shrunk path, failing or passing, and prints the command with its knobs', async () => {
    // 1. A fuzz run that fails and shrinks: the error carries the replay command.
    const search = await harness({ FUZZ_SEED: '7' });
    let last: Batch | undefined;
    const failure = await search
      .fuzz('inproc', 200, 8, async (b) => {
        if (!hasLoop(b)) return [];
        last = b;
        return ['a loop'];
      })
      .then(
        () => undefined,
        (err: Error) => err.message,
      );
    expect(failure).toBeDefined();
    const command = /replay with (.*?) \(/.exec(failure!)![1];
    expect(command).toContain('FUZZ_BATCH=8');
    expect(command).toContain('FUZZ_SKEW_MS=2000');
    const seed = /FUZZ_SEED=(\d+)/.exec(command)![1];
    const path = /FUZZ_PATH=([\d:]+)/.exec(command)![1];
    expect(path).toContain(':'); // shrunk

    // 2. Replays: one batch each, the shrunk one, whatever its outcome.
    for (const outcome of ['fails', 'passes'] as const) {
      const replay = await harness({ FUZZ_SEED: seed, FUZZ_PATH: path, FUZZ_BATCH: '8' });
      const seen: Batch[] = [];
      const run = replay.fuzz('inproc', 200, 8, async (b) => {
        seen.push(b);
        return outcome === 'fails' ? ['still broken'] : [];
      });
      if (outcome === 'fails') await expect(run).rejects.toThrow(`FUZZ_PATH=${path} `);
      else expect(await run).toBe(last!.programs.length);
      expect(seen).toHaveLength(1);
      expect(describeBatch(seen[0])).toBe(describeBatch(last!));
    }
  }, 60_000);

  it('reports a path that leads to no batch (other knobs than the ones that generated it)', async () => {
    const replay = await harness({ FUZZ_SEED: '7', FUZZ_PATH: '0:999999' });
    await expect(replay.fuzz('inproc', 10, 8, async () => [])).rejects.toThrow(
      /leads to no batch.*FUZZ_BATCH/,
    );
  });

  it('refuses a path without its seed', async () => {
    const replay = await harness({ FUZZ_PATH: '0:1' });
    await expect(replay.fuzz('inproc', 10, 8, async () => [])).rejects.toThrow(
      /needs the FUZZ_SEED/,
    );
  });
});
