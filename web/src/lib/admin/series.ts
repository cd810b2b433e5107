// Daily sales for charts: every day of a range present (a day without sales is a zero, not a gap).
import type { Schemas } from '../api/client';

export type DailySales = Schemas['DailySales'];

const DAY = 86_400_000;

/** `yyyy-mm-dd` of an instant in the browser's zone. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Days from `from` to `to` inclusive (`yyyy-mm-dd`), at most `max`. */
export function daysBetween(from: string, to: string, max = 3650): string[] {
  const days: string[] = [];
  const [y, m, d] = from.split('-').map(Number);
  const start = new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12);
  for (let i = 0; i < max; i += 1) {
    const day = localDay(start.getTime() + i * DAY);
    if (day > to) break;
    days.push(day);
  }
  return days;
}

/** How many days back from today the API must read to cover `from` (the `days` parameter). */
export function daysParam(from: string, nowMs: number): number {
  const [y, m, d] = from.split('-').map(Number);
  const start = new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).getTime();
  return Math.min(3650, Math.max(1, Math.ceil((nowMs - start) / DAY)));
}

/** The rows of the range, one per day, zeros where nothing sold. */
export function fillDays(rows: ReadonlyArray<DailySales>, from: string, to: string): DailySales[] {
  const byDay = new Map(rows.map((r) => [r.date, r]));
  return daysBetween(from, to).map(
    (date) =>
      byDay.get(date) ?? {
        date,
        day_name: new Date(`${date}T12:00:00`).toLocaleDateString('en-GB', { weekday: 'long' }),
        tickets_sold: 0,
        revenue_cents: 0,
        unique_customers: 0,
      },
  );
}

/** Running totals (tickets and revenue up to each day). */
export function cumulative(rows: ReadonlyArray<DailySales>): Array<{ date: string; tickets: number; revenueCents: number }> {
  let tickets = 0;
  let revenueCents = 0;
  return rows.map((r) => {
    tickets += r.tickets_sold;
    revenueCents += r.revenue_cents;
    return { date: r.date, tickets, revenueCents };
  });
}

/** A date range from the URL, or the last `days` days ending today. */
export function rangeFrom(params: URLSearchParams, nowMs: number, days = 30): { from: string; to: string } {
  const isDay = (s: string | null): s is string => s !== null && /^\d{4}-\d{2}-\d{2}$/.test(s);
  const today = localDay(nowMs);
  const to = isDay(params.get('to')) ? (params.get('to') as string) : today;
  const from = isDay(params.get('from')) ? (params.get('from') as string) : localDay(nowMs - (days - 1) * DAY);
  return from <= to ? { from, to } : { from: to, to: from };
}
