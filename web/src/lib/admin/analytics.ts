// The four analytics dashboards as table rows and CSV files.
import { centsCell, type Column } from './csv';
import type { DailySales } from './series';
import type { Popularity, Segments, TopSellers } from './requests';

export type TopEvent = TopSellers['events'][number];
export type Segment = Segments['segments'][number];
export type SectionRow = Popularity['sections'][number] & { event_name: string };

export const SERIES_COLUMNS: Column<DailySales>[] = [
  { header: 'Date', value: (r) => r.date },
  { header: 'Day', value: (r) => r.day_name.trim() },
  { header: 'Tickets sold', value: (r) => r.tickets_sold },
  { header: 'Net revenue (EUR)', value: (r) => centsCell(r.revenue_cents) },
  { header: 'Buyers', value: (r) => r.unique_customers },
];

export const TOP_COLUMNS: Column<TopEvent>[] = [
  { header: 'Event', value: (r) => r.event_name },
  { header: 'Venue', value: (r) => r.venue_name },
  { header: 'Tickets sold', value: (r) => r.tickets_sold },
  { header: 'Capacity', value: (r) => r.total_capacity },
  { header: 'Net revenue (EUR)', value: (r) => centsCell(r.revenue_cents) },
  { header: 'Event id', value: (r) => r.event_id },
];

export const SEGMENT_COLUMNS: Column<Segment>[] = [
  { header: 'Segment', value: (r) => segmentWords(r.segment) },
  { header: 'Customers', value: (r) => r.customers },
  { header: 'Lifetime value (EUR)', value: (r) => centsCell(r.lifetime_value_cents) },
];

export const SECTION_COLUMNS: Column<SectionRow>[] = [
  { header: 'Event', value: (r) => r.event_name },
  { header: 'Section', value: (r) => r.section },
  { header: 'Tickets sold', value: (r) => r.tickets_sold },
  { header: 'Net revenue (EUR)', value: (r) => centsCell(r.revenue_cents) },
  { header: 'Event id', value: (r) => r.event_id },
];

// The server's segments: `vip` (5+ purchases or €1,000+ spent), `regular` (2+), `new`.
const SEGMENT_WORDS: Record<string, string> = {
  new: 'New (1 purchase)',
  regular: 'Regular (2+ purchases)',
  vip: 'VIP (5+ purchases or €1,000+)',
};

export function segmentWords(segment: string): string {
  return SEGMENT_WORDS[segment] ?? segment.charAt(0).toUpperCase() + segment.slice(1).replace(/_/g, ' ');
}

/** Sections with their event's name (from the events the page knows; else a short id). */
export function namedSections(popularity: Popularity['sections'], names: ReadonlyMap<string, string>): SectionRow[] {
  return popularity.map((s) => ({ ...s, event_name: names.get(s.event_id) ?? `Event ${s.event_id.slice(0, 8)}` }));
}

/** A file name for a download: `sales-2030-01-01-to-2030-01-31.csv`. */
export function csvName(what: string, range?: { from: string; to: string }): string {
  return range ? `${what}-${range.from}-to-${range.to}.csv` : `${what}.csv`;
}
