import { describe, expect, it } from 'vitest';
import { cumulative, daysBetween, daysParam, fillDays, rangeFrom } from '../../../src/lib/admin/series';

describe('daily series', () => {
  it('lists the days of a range', () => {
    expect(daysBetween('2030-02-27', '2030-03-02')).toEqual(['2030-02-27', '2030-02-28', '2030-03-01', '2030-03-02']);
    expect(daysBetween('2030-03-02', '2030-03-01')).toEqual([]);
  });

  it('fills the days without sales with zeros', () => {
    const rows = [{ date: '2030-03-02', day_name: 'Saturday', tickets_sold: 3, revenue_cents: 9000, unique_customers: 2 }];
    const filled = fillDays(rows, '2030-03-01', '2030-03-03');
    expect(filled.map((r) => [r.date, r.tickets_sold])).toEqual([
      ['2030-03-01', 0],
      ['2030-03-02', 3],
      ['2030-03-03', 0],
    ]);
    expect(filled[0]?.day_name).toBe('Friday');
    expect(cumulative(filled).map((r) => r.tickets)).toEqual([0, 3, 3]);
  });

  it('asks the API for enough days back', () => {
    const now = new Date(2030, 2, 10, 15).getTime();
    expect(daysParam('2030-03-10', now)).toBe(1);
    expect(daysParam('2030-03-01', now)).toBe(10);
    expect(daysParam('1990-01-01', now)).toBe(3650);
  });

  it('reads a range from the URL, or the last 30 days', () => {
    const now = new Date(2030, 2, 10, 15).getTime();
    expect(rangeFrom(new URLSearchParams(''), now)).toEqual({ from: '2030-02-09', to: '2030-03-10' });
    expect(rangeFrom(new URLSearchParams('from=2030-01-01&to=2030-01-31'), now)).toEqual({ from: '2030-01-01', to: '2030-01-31' });
    expect(rangeFrom(new URLSearchParams('from=2030-02-01&to=2030-01-01'), now)).toEqual({ from: '2030-01-01', to: '2030-02-01' });
    expect(rangeFrom(new URLSearchParams('from=yesterday'), now).from).toBe('2030-02-09');
  });
});
