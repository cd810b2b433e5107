// The catalogue's search, filters and status badges, as plain functions over API events.
import { endOfLocalDay, startOfLocalDay } from './time';

export interface CatalogueEvent {
  event_id: string;
  name: string;
  date: string;
  category: string;
  status: string;
  venue: { name: string; city?: string | null; country?: string | null };
  sections: ReadonlyArray<{ name: string; current_price_cents: number; capacity: number }>;
}

export interface Filters {
  q: string;
  category: string;
  city: string;
  /** yyyy-mm-dd, in the visitor's zone; '' for no bound. */
  from: string;
  to: string;
  page: number;
}

export const PAGE_SIZE = 12;

export const EMPTY_FILTERS: Filters = { q: '', category: '', city: '', from: '', to: '', page: 1 };

/** Statuses a buyer sees in the catalogue (drafts never reach them; finished events are past). */
const LISTED = new Set(['published', 'sales_open', 'sales_closed', 'cancelled']);

export function filtersFromSearch(params: URLSearchParams): Filters {
  const page = Number(params.get('page') ?? '1');
  return {
    q: params.get('q') ?? '',
    category: params.get('category') ?? '',
    city: params.get('city') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

export function filtersToSearch(filters: Filters): string {
  const params = new URLSearchParams();
  for (const key of ['q', 'category', 'city', 'from', 'to'] as const) {
    const value = filters[key].trim();
    if (value) params.set(key, value);
  }
  if (filters.page > 1) params.set('page', String(filters.page));
  const s = params.toString();
  return s ? `?${s}` : '';
}

const fold = (s: string) =>
  s
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .trim();

/** Upcoming listed events matching the filters, soonest first. */
export function filterEvents<E extends CatalogueEvent>(events: ReadonlyArray<E>, filters: Filters, nowMs: number): E[] {
  const q = fold(filters.q);
  const city = fold(filters.city);
  const from = filters.from ? startOfLocalDay(filters.from) : -Infinity;
  const to = filters.to ? endOfLocalDay(filters.to) : Infinity;
  return events
    .filter((e) => {
      const at = Date.parse(e.date);
      if (!LISTED.has(e.status) || at < nowMs) return false;
      if (at < from || at >= to) return false;
      if (filters.category && e.category !== filters.category) return false;
      if (city && fold(e.venue.city ?? '') !== city) return false;
      if (q) {
        const haystack = fold([e.name, e.venue.name, e.venue.city ?? '', e.category].join(' '));
        if (!q.split(/\s+/).every((word) => haystack.includes(word))) return false;
      }
      return true;
    })
    .sort((a, b) => Date.parse(a.date) - Date.parse(b.date));
}

/** One page of a list, and how many pages there are. */
export function paginate<T>(items: ReadonlyArray<T>, page: number, size: number = PAGE_SIZE): { items: T[]; pages: number; page: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, page), pages);
  return { items: items.slice((current - 1) * size, current * size), pages, page: current };
}

/** The distinct values of a field, sorted, for a filter's options. */
export function optionsOf(events: ReadonlyArray<CatalogueEvent>, pick: (e: CatalogueEvent) => string | null | undefined): string[] {
  const values = new Set<string>();
  for (const e of events) {
    const v = pick(e);
    if (v) values.add(v);
  }
  return [...values].sort((a, b) => a.localeCompare(b));
}

export type Badge = 'on_sale' | 'few_left' | 'sold_out' | 'cancelled' | 'coming_soon' | 'sales_closed' | 'past';

export const BADGE_WORDS: Record<Badge, string> = {
  on_sale: 'On sale',
  few_left: 'Few left',
  sold_out: 'Sold out',
  cancelled: 'Cancelled',
  coming_soon: 'Coming soon',
  sales_closed: 'Sales closed',
  past: 'Past event',
};

export interface Counts {
  available: number;
  total_capacity: number;
}

/** "Few left" once a tenth or less remains (and at most 20 seats). */
export function isFewLeft(available: number, capacity: number): boolean {
  return available > 0 && available <= Math.max(1, Math.min(20, Math.ceil(capacity / 10)));
}

/** The badge an event shows, given its status and (if known) its live counts. */
export function eventBadge(status: string, counts?: ReadonlyArray<Counts> | null): Badge {
  if (status === 'cancelled') return 'cancelled';
  if (status === 'completed') return 'past';
  if (status === 'published' || status === 'draft') return 'coming_soon';
  if (status === 'sales_closed') return 'sales_closed';
  if (counts && counts.length > 0) {
    const available = counts.reduce((n, c) => n + c.available, 0);
    const capacity = counts.reduce((n, c) => n + c.total_capacity, 0);
    if (available === 0) return 'sold_out';
    if (isFewLeft(available, capacity)) return 'few_left';
  }
  return 'on_sale';
}

/** A section's badge on the event page. */
export function sectionBadge(counts: Counts | undefined): Badge | null {
  if (!counts) return null;
  if (counts.available === 0) return 'sold_out';
  if (isFewLeft(counts.available, counts.total_capacity)) return 'few_left';
  return null;
}

export const CATEGORY_WORDS: Record<string, string> = {
  concert: 'Concert',
  sports: 'Sports',
  conference: 'Conference',
  theater: 'Theatre',
  theatre: 'Theatre',
  comedy: 'Comedy',
  festival: 'Festival',
  other: 'Other',
};

export function categoryWords(category: string): string {
  return CATEGORY_WORDS[category] ?? category.charAt(0).toUpperCase() + category.slice(1);
}
