import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlLiteral } from '../../lib/database/commit-query.js';

describe('sqlLiteral', () => {
  it("should quote text exactly as pg's escapeLiteral does, with or without characters to escape", () => {
    const alphabet = ["'", '\\', 'a', 'é', '"', '$', '{', '}', ' ', '\n', '😀', 'E', ':'];
    const texts = ['', '12345', '{"json":1}', '2026-12-06T07:49:47.123Z', "it's", 'a\\b', "\\'"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % alphabet.length;
    for (let i = 0; i < 500; i++)
      texts.push(Array.from({ length: 1 + (i % 12) }, () => alphabet[next()]).join(''));
    for (const text of texts)
      expect(sqlLiteral(text, 'text')).toBe(`${pg.escapeLiteral(text)}::text`);
  });

  it('should write null, numbers and dates, and refuse a NUL character', () => {
    expect(sqlLiteral(null, 'jsonb')).toBe('NULL::jsonb');
    expect(sqlLiteral(3, 'int')).toBe("'3'::int");
    expect(sqlLiteral(new Date('2026-01-02T03:04:05.678Z'), 'timestamptz')).toBe(
      "'2026-01-02T03:04:05.678Z'::timestamptz",
    );
    expect(sqlLiteral('a\u0000b', 'text')).toBeUndefined();
  });
});
