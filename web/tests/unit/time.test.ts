import { describe, expect, it } from 'vitest';
import {
  ServerClock,
  describeCountdown,
  endOfLocalDay,
  formatCountdown,
  formatDate,
  formatDateTime,
  remainingMs,
  startOfLocalDay,
} from '../../src/lib/time';

describe('ServerClock', () => {
  it('is zero until an answer is seen', () => {
    const clock = new ServerClock();
    expect(clock.offset).toBe(0);
    expect(clock.now(1000)).toBe(1000);
  });

  it('learns the offset from Date headers (whole seconds)', () => {
    const clock = new ServerClock();
    // Our clock is 60 s behind the server's: we read 1_000_000 when the server stamped 1_060_000.
    const server = Date.UTC(2030, 0, 1, 12, 0, 0);
    const local = server - 60_000;
    clock.observe(new Date(server).toUTCString(), local - 50, local + 50);
    expect(Math.abs(clock.offset - 60_000)).toBeLessThanOrEqual(1000);
  });

  it('narrows the offset with more answers', () => {
    const clock = new ServerClock();
    const trueOffset = 123_456; // ms the server is ahead
    for (let i = 0; i < 20; i++) {
      const sent = 1_000_000 + i * 777;
      const received = sent + 40;
      const serverAt = sent + 20 + trueOffset;
      const stamped = Math.floor(serverAt / 1000) * 1000;
      clock.observe(new Date(stamped).toUTCString(), sent, received);
    }
    expect(Math.abs(clock.offset - trueOffset)).toBeLessThan(100);
  });

  it('starts again when clocks jump', () => {
    const clock = new ServerClock();
    clock.observe(new Date(10_000_000).toUTCString(), 10_000_000, 10_000_010);
    clock.observe(new Date(50_000_000).toUTCString(), 10_001_000, 10_001_010);
    expect(Math.abs(clock.offset - (50_000_000 - 10_001_000))).toBeLessThanOrEqual(1000);
  });

  it('ignores missing or broken headers', () => {
    const clock = new ServerClock();
    clock.observe(null, 0, 1);
    clock.observe('not a date', 0, 1);
    expect(clock.samples).toBe(0);
  });
});

describe('countdown', () => {
  it('counts down to expires_at and stops at zero', () => {
    const expires = '2030-01-01T12:05:00Z';
    const now = Date.parse('2030-01-01T12:00:00Z');
    expect(remainingMs(expires, now)).toBe(300_000);
    expect(remainingMs(expires, now + 299_000)).toBe(1000);
    expect(remainingMs(expires, now + 400_000)).toBe(0);
  });

  it('formats as m:ss, rounding up so 0:00 means over', () => {
    expect(formatCountdown(300_000)).toBe('5:00');
    expect(formatCountdown(299_001)).toBe('5:00');
    expect(formatCountdown(299_000)).toBe('4:59');
    expect(formatCountdown(61_000)).toBe('1:01');
    expect(formatCountdown(9_500)).toBe('0:10');
    expect(formatCountdown(1)).toBe('0:01');
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(-5)).toBe('0:00');
  });

  it('describes the time in words', () => {
    expect(describeCountdown(120_000)).toBe('2 minutes');
    expect(describeCountdown(61_000)).toBe('1 minute 1 second');
    expect(describeCountdown(30_000)).toBe('30 seconds');
    expect(describeCountdown(0)).toBe('0 seconds');
  });
});

describe('dates in the visitor’s zone', () => {
  it('shows the time in the given zone', () => {
    const iso = '2030-03-14T19:00:00Z';
    expect(formatDateTime(iso, { locale: 'en-GB', timeZone: 'Europe/Paris' })).toMatch(/^Thu,? 14 Mar 2030, 20:00$/);
    expect(formatDateTime(iso, { locale: 'en-GB', timeZone: 'America/New_York' })).toMatch(/^Thu,? 14 Mar 2030, 15:00$/);
    expect(formatDate('2030-03-14T23:30:00Z', { locale: 'en-GB', timeZone: 'Asia/Tokyo' })).toBe('15 Mar 2030');
  });

  it('turns date inputs into local day bounds', () => {
    const start = startOfLocalDay('2030-03-14');
    const end = endOfLocalDay('2030-03-14');
    expect(new Date(start).getDate()).toBe(14);
    expect(new Date(start).getHours()).toBe(0);
    expect(new Date(end).getDate()).toBe(15);
    expect(end - start).toBeGreaterThanOrEqual(23 * 3600_000);
  });
});
