import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { InvalidCronError } from '../../lib/index.js';
import { COUNT_CAP, CronSpec, jitterOffset } from '../../lib/schedules/cron-spec.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
/** Local wall-clock time of `ms` in `zone`, with its UTC offset (+01:00 CET, +02:00 CEST). */
const local = (ms: number, zone: string) =>
  DateTime.fromMillis(ms, { zone }).toFormat('yyyy-MM-dd HH:mm:ss ZZ');
const ticks = (spec: CronSpec, fromIso: string, n: number) => spec.upcoming(Date.parse(fromIso), n);

describe('CronSpec', () => {
  it('should read 6 fields as seconds first and fire strictly after the given time', () => {
    const spec = new CronSpec('*/20 * * * * *');
    expect(ticks(spec, '2026-01-01T00:00:00.000Z', 3).map(iso)).toEqual([
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
    expect(iso(spec.atOrAfter(Date.parse('2026-01-01T00:00:20.000Z')))).toBe(
      '2026-01-01T00:00:20.000Z',
    );
    expect(iso(spec.before(Date.parse('2026-01-01T00:00:20.000Z')))).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });

  describe('DST in Europe/Paris (2026-03-29 02:00 → 03:00, 2026-10-25 03:00 → 02:00)', () => {
    const zone = 'Europe/Paris';
    it('should fire a fixed time in the skipped hour once, shifted by the gap (02:30 → 03:30)', () => {
      const spec = new CronSpec('30 2 * * *', zone);
      expect(ticks(spec, '2026-03-27T12:00:00Z', 3).map((t) => local(t, zone))).toEqual([
        '2026-03-28 02:30:00 +01:00',
        '2026-03-29 03:30:00 +02:00',
        '2026-03-30 02:30:00 +02:00',
      ]);
    });

    it('should merge a skipped tick with a real one at the same instant (02:15 and 03:15 → one 03:15)', () => {
      const spec = new CronSpec('15 2,3 * * *', zone);
      expect(ticks(spec, '2026-03-28T12:00:00Z', 3).map((t) => local(t, zone))).toEqual([
        '2026-03-29 03:15:00 +02:00',
        '2026-03-30 02:15:00 +02:00',
        '2026-03-30 03:15:00 +02:00',
      ]);
    });

    it('should not invent ticks for the skipped hour of a wildcard-hour expression', () => {
      const spec = new CronSpec('*/15 * * * *', zone);
      expect(ticks(spec, '2026-03-29T00:40:00Z', 3).map((t) => local(t, zone))).toEqual([
        '2026-03-29 01:45:00 +01:00',
        '2026-03-29 03:00:00 +02:00',
        '2026-03-29 03:15:00 +02:00',
      ]);
    });

    it('should fire a fixed time in the repeated hour once, at its first occurrence', () => {
      const spec = new CronSpec('30 2 * * *', zone);
      expect(ticks(spec, '2026-10-24T12:00:00Z', 2).map((t) => local(t, zone))).toEqual([
        '2026-10-25 02:30:00 +02:00',
        '2026-10-26 02:30:00 +01:00',
      ]);
      const seconds = new CronSpec('59 * 2 * * *', zone);
      expect(ticks(seconds, '2026-10-25T00:58:30Z', 2).map((t) => local(t, zone))).toEqual([
        '2026-10-25 02:58:59 +02:00',
        '2026-10-25 02:59:59 +02:00',
      ]);
      expect(local(seconds.after(Date.parse('2026-10-25T00:59:59Z')) as number, zone)).toBe(
        '2026-10-26 02:00:59 +01:00',
      );
    });

    it('should fire every real hour of a wildcard-hour expression through the repeated hour', () => {
      const spec = new CronSpec('0 * * * *', zone);
      expect(ticks(spec, '2026-10-24T23:30:00Z', 4).map(iso)).toEqual([
        '2026-10-25T00:00:00.000Z',
        '2026-10-25T01:00:00.000Z',
        '2026-10-25T02:00:00.000Z',
        '2026-10-25T03:00:00.000Z',
      ]);
      expect(ticks(spec, '2026-10-24T23:30:00Z', 3).map((t) => local(t, zone))).toEqual([
        '2026-10-25 02:00:00 +02:00',
        '2026-10-25 02:00:00 +01:00',
        '2026-10-25 03:00:00 +01:00',
      ]);
    });
  });

  it('should keep US schedules at their local time across the spring-forward day', () => {
    const spec = new CronSpec('0 9 * * *', 'America/New_York');
    expect(ticks(spec, '2026-03-07T00:00:00Z', 3).map(iso)).toEqual([
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
  });

  it('should count missed ticks exactly up to the cap and extrapolate past it', () => {
    const spec = new CronSpec('* * * * * *');
    const from = Date.parse('2026-01-01T00:00:00Z');
    expect(spec.count(from, from + 10_000)).toEqual({ count: 10, exact: true });
    expect(spec.count(from + 500, from + 10_000)).toEqual({ count: 9, exact: true });
    const month = 30 * 86_400_000;
    const started = performance.now();
    expect(spec.count(from, from + month)).toEqual({ count: month / 1000, exact: false });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(spec.count(from, from + COUNT_CAP * 1000)).toEqual({ count: COUNT_CAP, exact: true });
  });

  it('should reject bad expressions and time zones with InvalidCronError', () => {
    expect(() => new CronSpec('61 * * * *')).toThrow(InvalidCronError);
    expect(() => new CronSpec('0 0 30 2 *')).toThrow(/Invalid cron expression "0 0 30 2 \*"/);
    expect(() => new CronSpec('* * * * *', 'Mars/Olympus')).toThrow(/Unknown time zone/);
    expect(() => new CronSpec('')).toThrow(InvalidCronError);
  });
});

describe('jitterOffset', () => {
  it('should be stable per schedule and tick, and stay below the jitter', () => {
    const offsets = Array.from({ length: 200 }, (_, i) => jitterOffset('daily', i * 1000, 30_000));
    expect(offsets.every((o) => o >= 0 && o < 30_000)).toBe(true);
    expect(new Set(offsets).size).toBeGreaterThan(150);
    expect(jitterOffset('daily', 5_000, 30_000)).toBe(offsets[5]);
    expect(jitterOffset('daily', 5_000, 0)).toBe(0);
  });
});
