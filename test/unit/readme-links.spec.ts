import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * README.md ships in the package and is rendered on the registry page, where a link relative to the
 * repository resolves nowhere (the package declares no `repository`). Every link and image in it
 * must be absolute (`https://…`) or an in-page anchor (`#…`); files of the repository are named as
 * code (`sample-app/`), not linked.
 */
describe('README links', () => {
  it('has no link or image relative to the repository', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const withoutCode = readme.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
    const targets = [
      ...withoutCode.matchAll(/\]\(([^)\s]+)[^)]*\)|<(?:img|a)\s[^>]*(?:src|href)="([^"]+)"/g),
    ].map((m) => m[1] ?? m[2]);
    const relative = targets.filter((t) => !/^(https?:|mailto:|#)/.test(t));
    expect(relative).toEqual([]);
  });
});
