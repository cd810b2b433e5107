// The catalogue's filters (kept in the URL, applied by the server) and status badges.
import { endOfLocalDay, startOfLocalDay } from './time';

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

/** The categories the API knows (GET /api/events?category=). */
export const CATEGORIES = ['concert', 'sports', 'conference', 'theatre', 'festival', 'other'] as const;

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

/** The query of GET /api/events for the filters: upcoming only (from = now at the earliest). */
export interface CatalogueQuery {
  q?: string;
  category?: string;
  city?: string;
  from: string;
  to?: string;
  page: number;
  per_page: number;
}

const isDay = (s: string) => /^\d{4}-\d{2}-\d{2}$/.test(s);

export function catalogueQuery(filters: Filters, nowMs: number, perPage: number = PAGE_SIZE): CatalogueQuery {
  const query: CatalogueQuery = {
    from: new Date(Math.max(nowMs, isDay(filters.from) ? startOfLocalDay(filters.from) : -Infinity)).toISOString(),
    page: Math.min(filters.page, 10_000),
    per_page: perPage,
  };
  const q = filters.q.trim().slice(0, 200);
  if (q) query.q = q;
  if ((CATEGORIES as readonly string[]).includes(filters.category)) query.category = filters.category;
  const city = filters.city.trim().slice(0, 100);
  if (city) query.city = city;
  if (isDay(filters.to)) query.to = new Date(endOfLocalDay(filters.to)).toISOString();
  return query;
}

/** How many pages a list of `total` items has (at least one). */
export function pageCount(total: number, size: number = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(total / size));
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

/** "Few left" once 10 seats or fewer, or a tenth of the capacity or less, remain. */
export function isFewLeft(available: number, capacity: number): boolean {
  return available > 0 && (available <= 10 || available * 10 <= capacity);
}

/** Counts of several sections added up (the event page's live counts). */
export function totalCounts(counts: ReadonlyArray<Counts>): Counts | null {
  if (counts.length === 0) return null;
  return {
    available: counts.reduce((n, c) => n + c.available, 0),
    total_capacity: counts.reduce((n, c) => n + c.total_capacity, 0),
  };
}

/** The badge an event shows, given its status and (if known) the seats left (its `availability`). */
export function eventBadge(status: string, left?: Counts | null): Badge {
  if (status === 'cancelled') return 'cancelled';
  if (status === 'completed') return 'past';
  if (status === 'published' || status === 'draft') return 'coming_soon';
  if (status === 'sales_closed') return 'sales_closed';
  if (left) {
    if (left.available <= 0) return 'sold_out';
    if (isFewLeft(left.available, left.total_capacity)) return 'few_left';
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
