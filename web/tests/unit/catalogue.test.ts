import { describe, expect, it } from 'vitest';
import {
  eventBadge,
  filterEvents,
  filtersFromSearch,
  filtersToSearch,
  isFewLeft,
  paginate,
  sectionBadge,
  EMPTY_FILTERS,
  type CatalogueEvent,
} from '../../src/lib/catalogue';

const now = Date.parse('2030-01-01T00:00:00Z');
const ev = (over: Partial<CatalogueEvent> & { name: string; date: string }): CatalogueEvent => ({
  event_id: over.name,
  category: 'concert',
  status: 'sales_open',
  venue: { name: 'Hall', city: 'Paris' },
  sections: [],
  ...over,
});

const events = [
  ev({ name: 'Späte Jazz Night', date: '2030-02-10T20:00:00Z', venue: { name: 'Blue Note', city: 'Berlin' } }),
  ev({ name: 'Rust Conf', date: '2030-01-15T09:00:00Z', category: 'conference' }),
  ev({ name: 'Old show', date: '2029-12-01T20:00:00Z' }),
  ev({ name: 'Draft', date: '2030-03-01T20:00:00Z', status: 'draft' }),
  ev({ name: 'Cancelled gig', date: '2030-03-02T20:00:00Z', status: 'cancelled' }),
];

describe('filterEvents', () => {
  it('lists upcoming public events, soonest first', () => {
    expect(filterEvents(events, EMPTY_FILTERS, now).map((e) => e.name)).toEqual(['Rust Conf', 'Späte Jazz Night', 'Cancelled gig']);
  });

  it('searches names, venues and cities, ignoring case and accents', () => {
    expect(filterEvents(events, { ...EMPTY_FILTERS, q: 'spate jazz' }, now).map((e) => e.name)).toEqual(['Späte Jazz Night']);
    expect(filterEvents(events, { ...EMPTY_FILTERS, q: 'blue' }, now).map((e) => e.name)).toEqual(['Späte Jazz Night']);
  });

  it('filters by category, city and date range', () => {
    expect(filterEvents(events, { ...EMPTY_FILTERS, category: 'conference' }, now).map((e) => e.name)).toEqual(['Rust Conf']);
    expect(filterEvents(events, { ...EMPTY_FILTERS, city: 'berlin' }, now).map((e) => e.name)).toEqual(['Späte Jazz Night']);
    expect(filterEvents(events, { ...EMPTY_FILTERS, from: '2030-02-01', to: '2030-02-28' }, now).map((e) => e.name)).toEqual([
      'Späte Jazz Night',
    ]);
  });
});

describe('filters in the URL', () => {
  it('round-trips and drops empty values', () => {
    const filters = { q: 'jazz', category: 'concert', city: '', from: '2030-01-01', to: '', page: 2 };
    const search = filtersToSearch(filters);
    expect(search).toBe('?q=jazz&category=concert&from=2030-01-01&page=2');
    expect(filtersFromSearch(new URLSearchParams(search))).toEqual(filters);
    expect(filtersToSearch(EMPTY_FILTERS)).toBe('');
    expect(filtersFromSearch(new URLSearchParams('page=-3')).page).toBe(1);
  });
});

describe('paginate', () => {
  it('slices pages and clamps the page number', () => {
    const items = Array.from({ length: 25 }, (_, i) => i);
    expect(paginate(items, 1, 12)).toMatchObject({ pages: 3, page: 1, items: items.slice(0, 12) });
    expect(paginate(items, 3, 12).items).toEqual([24]);
    expect(paginate(items, 9, 12).page).toBe(3);
    expect(paginate([], 1, 12)).toEqual({ items: [], pages: 1, page: 1 });
  });
});

describe('badges', () => {
  it('shows the event’s state first, then what is left', () => {
    expect(eventBadge('cancelled', [{ available: 10, total_capacity: 10 }])).toBe('cancelled');
    expect(eventBadge('published')).toBe('coming_soon');
    expect(eventBadge('sales_closed')).toBe('sales_closed');
    expect(eventBadge('sales_open')).toBe('on_sale');
    expect(eventBadge('sales_open', [{ available: 0, total_capacity: 100 }, { available: 0, total_capacity: 50 }])).toBe('sold_out');
    expect(eventBadge('sales_open', [{ available: 5, total_capacity: 100 }, { available: 0, total_capacity: 50 }])).toBe('few_left');
    expect(eventBadge('sales_open', [{ available: 80, total_capacity: 100 }])).toBe('on_sale');
  });

  it('calls few left at a tenth (at most 20)', () => {
    expect(isFewLeft(10, 100)).toBe(true);
    expect(isFewLeft(11, 100)).toBe(false);
    expect(isFewLeft(20, 1000)).toBe(true);
    expect(isFewLeft(21, 1000)).toBe(false);
    expect(isFewLeft(1, 4)).toBe(true);
    expect(isFewLeft(0, 4)).toBe(false);
    expect(sectionBadge({ available: 0, total_capacity: 4 })).toBe('sold_out');
    expect(sectionBadge(undefined)).toBeNull();
  });
});
