import { describe, expect, it } from 'vitest';
import {
  catalogueQuery,
  eventBadge,
  filtersFromSearch,
  filtersToSearch,
  isFewLeft,
  pageCount,
  sectionBadge,
  totalCounts,
  EMPTY_FILTERS,
} from '../../src/lib/catalogue';
import { endOfLocalDay, startOfLocalDay } from '../../src/lib/time';

const now = Date.parse('2030-01-01T12:00:00Z');

describe('catalogueQuery', () => {
  it('asks for upcoming events only, a page of 12', () => {
    expect(catalogueQuery(EMPTY_FILTERS, now)).toEqual({ from: '2030-01-01T12:00:00.000Z', page: 1, per_page: 12 });
  });

  it('passes the filters the server applies', () => {
    const query = catalogueQuery({ q: '  jazz  night ', category: 'concert', city: ' Paris ', from: '2030-02-01', to: '2030-02-28', page: 3 }, now);
    expect(query).toEqual({
      q: 'jazz  night',
      category: 'concert',
      city: 'Paris',
      from: new Date(startOfLocalDay('2030-02-01')).toISOString(),
      to: new Date(endOfLocalDay('2030-02-28')).toISOString(),
      page: 3,
      per_page: 12,
    });
  });

  it('never starts in the past and drops what the server would refuse', () => {
    const query = catalogueQuery({ ...EMPTY_FILTERS, from: '2020-01-01', to: 'soon', category: 'knitting', page: 99_999 }, now);
    expect(query.from).toBe('2030-01-01T12:00:00.000Z');
    expect(query.to).toBeUndefined();
    expect(query.category).toBeUndefined();
    expect(query.page).toBe(10_000);
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

  it('counts pages', () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(12)).toBe(1);
    expect(pageCount(13)).toBe(2);
  });
});

describe('badges', () => {
  it('shows the event’s state first, then what is left', () => {
    expect(eventBadge('cancelled', { available: 10, total_capacity: 10 })).toBe('cancelled');
    expect(eventBadge('published')).toBe('coming_soon');
    expect(eventBadge('sales_closed')).toBe('sales_closed');
    expect(eventBadge('completed')).toBe('past');
    expect(eventBadge('sales_open')).toBe('on_sale');
    expect(eventBadge('sales_open', null)).toBe('on_sale');
    expect(eventBadge('sales_open', { available: 0, total_capacity: 150 })).toBe('sold_out');
    expect(eventBadge('sales_open', { available: 5, total_capacity: 150 })).toBe('few_left');
    expect(eventBadge('sales_open', { available: 80, total_capacity: 100 })).toBe('on_sale');
  });

  it('calls few left at 10 seats or a tenth of the capacity', () => {
    expect(isFewLeft(10, 10_000)).toBe(true);
    expect(isFewLeft(11, 100)).toBe(false);
    expect(isFewLeft(100, 1000)).toBe(true);
    expect(isFewLeft(101, 1000)).toBe(false);
    expect(isFewLeft(1, 4)).toBe(true);
    expect(isFewLeft(0, 4)).toBe(false);
    expect(sectionBadge({ available: 0, total_capacity: 4 })).toBe('sold_out');
    expect(sectionBadge({ available: 12, total_capacity: 40 })).toBeNull();
    expect(sectionBadge(undefined)).toBeNull();
  });

  it('adds sections up', () => {
    expect(totalCounts([])).toBeNull();
    expect(totalCounts([{ available: 1, total_capacity: 4 }, { available: 3, total_capacity: 6 }])).toEqual({ available: 4, total_capacity: 10 });
  });
});
