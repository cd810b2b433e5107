import { describe, expect, it } from 'vitest';
import { SECTION_COLUMNS, csvName, namedSections, segmentWords } from '../../../src/lib/admin/analytics';
import { toCsv } from '../../../src/lib/admin/csv';
import { adminEventQuery, eventCapacity, listFiltersFrom, listFiltersToSearch } from '../../../src/lib/admin/event-list';
import { orderFiltersFrom, orderFiltersToSearch, orderQuery, orderSeats } from '../../../src/lib/admin/orders';

describe('the events list', () => {
  it('keeps its filters in the URL and asks the server for them', () => {
    const filters = listFiltersFrom(new URLSearchParams('q=jazz&status=draft&page=2'));
    expect(filters).toEqual({ q: 'jazz', status: 'draft', page: 2 });
    expect(listFiltersToSearch(filters)).toBe('?q=jazz&status=draft&page=2');
    expect(adminEventQuery(filters)).toEqual({ q: 'jazz', status: 'draft', page: 2, per_page: 20 });
    expect(listFiltersFrom(new URLSearchParams('status=bogus&page=0'))).toEqual({ q: '', status: '', page: 1 });
    expect(eventCapacity({ sections: [{ capacity: 40 }, { capacity: 200 }] })).toBe(240);
  });
});

describe('the orders of an event', () => {
  it('searches by email and status, by page', () => {
    const filters = orderFiltersFrom(new URLSearchParams('email= Ann@Example.com &status=completed&page=3'));
    expect(filters).toEqual({ email: 'Ann@Example.com', status: 'completed', page: 3 });
    expect(orderQuery(filters)).toEqual({ email: 'Ann@Example.com', status: 'completed', page: 3, per_page: 20 });
    expect(orderFiltersToSearch({ email: '', status: '', page: 1 })).toBe('');
    expect(orderFiltersFrom(new URLSearchParams('status=everything')).status).toBe('');
  });

  it('reads the seats of a row', () => {
    expect(orderSeats([{ seat_id: 'x', seat_number: 'A-1' }, { seat_id: 'y', seat_number: null }])).toEqual(['A-1']);
    expect(orderSeats(null)).toEqual([]);
  });
});

describe('analytics', () => {
  it('names sections by their event and writes them as CSV', () => {
    const rows = namedSections(
      [
        { event_id: 'e1', section: 'Floor', tickets_sold: 3, revenue_cents: 9000 },
        { event_id: 'e2abcdefgh', section: 'Pit', tickets_sold: 1, revenue_cents: 2500 },
      ],
      new Map([['e1', 'Jazz Night']]),
    );
    expect(rows.map((r) => r.event_name)).toEqual(['Jazz Night', 'Event e2abcdef']);
    expect(toCsv(rows, SECTION_COLUMNS).split('\r\n')[1]).toBe('Jazz Night,Floor,3,90.00,e1');
    expect(csvName('sales', { from: '2030-01-01', to: '2030-01-31' })).toBe('sales-2030-01-01-to-2030-01-31.csv');
    expect(segmentWords('vip')).toContain('VIP');
    expect(segmentWords('big_spender')).toBe('Big spender');
  });
});
