import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve('lib/dashboard');

/**
 * The dashboard's floors, top down: a file imports only its own folder or a lower floor (the
 * module and the barrel at the top import anything).
 */
const FLOORS: Record<string, number> = {
  '.': 5,
  http: 4,
  actions: 3,
  views: 2,
  data: 1,
  options: 0,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Dashboard files each file imports (relative specifiers that resolve inside lib/dashboard). */
function graph(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of files(ROOT)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/from\s+'(\.{1,2}\/[^']+)'/g)]
      .map((m) => resolve(dirname(file), m[1].replace(/\.js$/, '.ts')))
      .filter((t) => t.startsWith(`${ROOT}/`));
    out.set(file, targets);
  }
  return out;
}

const folderOf = (file: string) => relative(ROOT, dirname(file)) || '.';
const show = (file: string) => relative(ROOT, file);

describe('lib/dashboard layout', () => {
  const deps = graph();

  it('should keep every file in a known floor, under 300 lines', () => {
    for (const file of deps.keys()) {
      expect(FLOORS[folderOf(file)], `${show(file)} is in an unknown folder`).toBeDefined();
      const lines = readFileSync(file, 'utf8').split('\n').length;
      expect(lines, `${show(file)} has ${lines} lines`).toBeLessThanOrEqual(300);
    }
  });

  it('should import only downward: http -> actions -> views -> data -> options', () => {
    const upward: string[] = [];
    for (const [file, targets] of deps) {
      const from = folderOf(file);
      for (const t of targets) {
        const to = folderOf(t);
        if (from !== '.' && to !== from && FLOORS[to] >= FLOORS[from])
          upward.push(`${show(file)} -> ${show(t)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('should have no import cycle between its files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].map(show).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const t of deps.get(file) ?? []) visit(t, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of deps.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
