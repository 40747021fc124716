import { describe, expect, it } from 'vitest';
import {
  ALONE,
  GroupCommit,
  type GroupWriter,
  SLOW_STATEMENT_MS,
} from '../../lib/persistence/group-commit.js';

/** A statement the test ends by hand. */
interface Pending {
  items: string[];
  done(results?: (string | typeof ALONE)[]): void;
}

/** A writer whose statements stay open until the test ends them (`statements`, in order). */
function manualWriter() {
  const statements: Pending[] = [];
  const writer: GroupWriter<string, string> = {
    one: (item) =>
      new Promise((resolve) => {
        statements.push({ items: [item], done: () => resolve(`one:${item}`) });
      }),
    many: (items) =>
      new Promise((resolve) => {
        statements.push({
          items,
          done: (results) => resolve(results ?? items.map((i) => `many:${i}`)),
        });
      }),
  };
  return { writer, statements };
}

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GroupCommit', () => {
  it('should write a lone item at once, and group the items that wait for a slot', async () => {
    const { writer, statements } = manualWriter();
    const group = new GroupCommit(writer, 1);
    const a = group.write('a');
    await tick();
    expect(statements.map((s) => s.items)).toEqual([['a']]);
    const b = group.write('b');
    const c = group.write('c');
    await tick();
    expect(statements).toHaveLength(1);
    statements[0].done();
    await expect(a).resolves.toBe('one:a');
    await tick();
    expect(statements.map((s) => s.items)).toEqual([['a'], ['b', 'c']]);
    statements[1].done(['many:b', ALONE]);
    await expect(b).resolves.toBe('many:b');
    await tick();
    // An item the statement left is written alone.
    expect(statements.map((s) => s.items)).toEqual([['a'], ['b', 'c'], ['c']]);
    statements[2].done();
    await expect(c).resolves.toBe('one:c');
  });

  it('should give the slot of a statement that hangs to the waiting items after SLOW_STATEMENT_MS', async () => {
    const { writer, statements } = manualWriter();
    const group = new GroupCommit(writer, 1);
    const t0 = performance.now();
    void group.write('stuck');
    const next = group.write('next');
    let sentAt = 0;
    while (statements.length < 2) {
      await sleep(5);
      sentAt = performance.now() - t0;
    }
    expect(sentAt).toBeGreaterThanOrEqual(SLOW_STATEMENT_MS - 5);
    expect(sentAt).toBeLessThan(SLOW_STATEMENT_MS + 1000);
    statements[1].done();
    await expect(next).resolves.toBe('one:next');
    // The hung statement ending later does not free a second slot.
    statements[0].done();
    await tick();
    void group.write('x');
    void group.write('y');
    await tick();
    expect(statements.map((s) => s.items)).toEqual([['stuck'], ['next'], ['x']]);
  });

  it('should free each slot SLOW_STATEMENT_MS after its own statement began, not the first one', async () => {
    const { writer, statements } = manualWriter();
    const group = new GroupCommit(writer, 1);
    const t0 = performance.now();
    const first = group.write('first');
    await sleep(20);
    statements[0].done();
    await first;
    // Taken well after the watchdog was armed for the first statement.
    await sleep(150);
    void group.write('late');
    const startedLate = performance.now() - t0;
    void group.write('waiting');
    while (statements.length < 3) await sleep(5);
    const freedAfter = performance.now() - t0 - startedLate;
    expect(freedAfter).toBeGreaterThanOrEqual(SLOW_STATEMENT_MS - 5);
    expect(freedAfter).toBeLessThan(SLOW_STATEMENT_MS + 1000);
    statements[1].done();
    statements[2].done();
  });
});
