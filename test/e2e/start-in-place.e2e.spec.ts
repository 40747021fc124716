import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChronoForgeMetrics, WorkflowQueue, type WorkflowClient } from '../../lib/index.js';
import { WorkflowExecutor } from '../../lib/executor/workflow.executor.js';
import { PassSlots } from '../../lib/executor/pass-slots.js';
import { InPlaceGate, InPlaceWorkflows } from '../fixtures/in-place.fixture.js';
import { eventually } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

/** Run ids `client.start` enqueued (a spy on the real queue: the jobs are still added). */
function enqueued(queue: WorkflowQueue): string[] {
  const ids: string[] = [];
  const real = queue.enqueueRun.bind(queue);
  vi.spyOn(queue, 'enqueueRun').mockImplementation((id, ...rest) => {
    ids.push(id);
    return real(id, ...rest);
  });
  return ids;
}

/** Run ids whose pass ran in place (job id `inplace-…`), from a spy on the real executor. */
function ranInPlace(executor: WorkflowExecutor): string[] {
  const ids: string[] = [];
  const real = executor.runPass.bind(executor);
  vi.spyOn(executor, 'runPass').mockImplementation((id, jobId) => {
    if (jobId.startsWith('inplace-')) ids.push(id);
    return real(id, jobId);
  });
  return ids;
}

async function completed(client: WorkflowClient, key: string): Promise<unknown> {
  return eventually(async () => {
    const run = await client.get(key);
    return run.state === 'completed' ? run.result : undefined;
  }, 10_000);
}

/** `worker.startInPlace`: a start's first pass runs in the starting worker process. */
describe('start in place (e2e)', () => {
  const suite = suiteApp('inplace', [InPlaceGate, InPlaceWorkflows], {
    options: { worker: { concurrency: 3, startInPlace: true }, recovery: { every: '300ms' } },
  });
  afterEach(() => {
    vi.restoreAllMocks();
    suite.app.get(InPlaceGate).release();
  });

  it('runs a plain start without a queue job, and enqueues only continuations', async () => {
    const ids = enqueued(suite.app.get(WorkflowQueue));
    const inPlace = ranInPlace(suite.app.get(WorkflowExecutor));
    const { queueLag } = suite.app.get(ChronoForgeMetrics);
    const lagCount = async () =>
      (await queueLag.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const lagsBefore = await lagCount();
    const handle = await suite.client.start('inplace.steps', { key: 'plain-1' });
    expect(await completed(suite.client, 'plain-1')).toBe(3);
    expect(ids).not.toContain(handle.id);
    expect(inPlace).toEqual([handle.id]);
    // The pass without a job is in the queue-lag histogram like a job's pickup.
    expect((await lagCount()) - lagsBefore).toBe(1);
    const sleeper = await suite.client.start('inplace.sleeps', { key: 'sleep-1' });
    expect(await completed(suite.client, 'sleep-1')).toBe('done');
    // The sleep's continuation is a queue job like any other; the start was not.
    expect(ids.filter((id) => id === sleeper.id)).toHaveLength(1);
  });

  it('runs in place only in free slots, and never makes a queue job wait for one', async () => {
    const gate = suite.app.get(InPlaceGate);
    const slots = suite.app.get(PassSlots);
    const ids = enqueued(suite.app.get(WorkflowQueue));
    const inPlace = ranInPlace(suite.app.get(WorkflowExecutor));
    gate.close();
    const handles: Array<{ id: string }> = [];
    for (let i = 0; i < 5; i++)
      handles.push(await suite.client.start('inplace.steps', { key: `bound-${i}` }));
    // Two run in place (at most concurrency - 1; their step waits on the gate), the other three
    // were queued, and the queue's worker runs all three beside them: 2 × 3 - 1 passes at most.
    expect(inPlace).toEqual([handles[0].id, handles[1].id]);
    expect(ids.filter((id) => handles.some((h) => h.id === id))).toHaveLength(3);
    await eventually(async () => slots.active === 5 || undefined, 5_000, 'all five running');
    gate.release();
    for (let i = 0; i < 5; i++) expect(await completed(suite.client, `bound-${i}`)).toBe(3);
    for (let i = 0; i < 5; i++) expect(gate.ran.get(`bound-${i}/a`)).toBe(1);
    expect(slots.active).toBe(0);
  });

  it('hands a start that is not due by this clock to the queue at its wake-up', async () => {
    const executor = suite.app.get(WorkflowExecutor);
    const ids = enqueued(suite.app.get(WorkflowQueue));
    // As when this process's clock runs behind PostgreSQL's: the acquire finds the run not due.
    vi.spyOn(executor, 'runPass').mockResolvedValueOnce('not-due');
    const handle = await suite.client.start('inplace.steps', { key: 'skew-1' });
    expect(await completed(suite.client, 'skew-1')).toBe(3);
    expect(ids).toContain(handle.id);
  });

  it('goes through the queue for starts with start rules or a priority', async () => {
    const ids = enqueued(suite.app.get(WorkflowQueue));
    const single = await suite.client.start('inplace.singleton', { key: 'rule-1' });
    const prio = await suite.client.start('inplace.steps', { key: 'prio-1', priority: 5 });
    expect(ids).toEqual(expect.arrayContaining([single.id, prio.id]));
    expect(await completed(suite.client, 'rule-1')).toBe('ok');
    expect(await completed(suite.client, 'prio-1')).toBe(3);
  });

  it('hands a run whose in-place pass failed to the queue', async () => {
    const executor = suite.app.get(WorkflowExecutor);
    const ids = enqueued(suite.app.get(WorkflowQueue));
    // Fault: the first pass throws before it locks the run (as a failing acquire would).
    vi.spyOn(executor, 'runPass').mockRejectedValueOnce(new Error('acquire failed (injected)'));
    const handle = await suite.client.start('inplace.steps', { key: 'fault-1' });
    expect(await completed(suite.client, 'fault-1')).toBe(3);
    expect(ids).toContain(handle.id);
  });

  it('leaves a run whose in-place pass never started to the recovery sweeper', async () => {
    const executor = suite.app.get(WorkflowExecutor);
    const queue = suite.app.get(WorkflowQueue);
    // The process "dies" between the stored start and the pass: neither runs, nothing is queued.
    let end = (): void => undefined;
    vi.spyOn(executor, 'runPass').mockImplementationOnce(
      () => new Promise<'acquired'>((resolve) => (end = () => resolve('acquired'))),
    );
    vi.spyOn(queue, 'enqueueRun').mockResolvedValueOnce(undefined);
    await suite.client.start('inplace.steps', { key: 'lost-1' });
    // The sweeper (every 300 ms, for runs overdue by 1 s) enqueues it.
    expect(await completed(suite.client, 'lost-1')).toBe(3);
    end(); // the "dead" pass: gone with its process (shutdown would wait for it)
  });

  it("runs a pass started from another run's transactional step outside that run's context", async () => {
    const ids = enqueued(suite.app.get(WorkflowQueue));
    const inPlace = ranInPlace(suite.app.get(WorkflowExecutor));
    await suite.client.start('inplace.starter', { key: 'outer-1' });
    expect(await completed(suite.client, 'outer-1')).toBe('outer-1-probe');
    expect(await completed(suite.client, 'outer-1-probe')).toBe('no manager');
    const probe = await suite.client.get('outer-1-probe');
    expect(ids).not.toContain(probe.id);
    expect(inPlace).toContain(probe.id); // it did run in place
    expect(suite.app.get(InPlaceGate).seen.get('outer-1-probe')).toEqual({
      key: 'outer-1-probe',
      manager: false,
    });
  });
});
