// The organiser's list of events: every event, drafts too, filtered by words and status.
import type { EventQuery } from '../api/requests';

export const ADMIN_PAGE_SIZE = 20;

export const STATUSES = ['draft', 'published', 'sales_open', 'sales_closed', 'cancelled', 'completed'] as const;

export interface ListFilters {
  q: string;
  status: string;
  page: number;
}

export function listFiltersFrom(params: URLSearchParams): ListFilters {
  const page = Number(params.get('page') ?? '1');
  const status = params.get('status') ?? '';
  return {
    q: params.get('q') ?? '',
    status: (STATUSES as readonly string[]).includes(status) ? status : '',
    page: Number.isInteger(page) && page > 0 ? Math.min(page, 10_000) : 1,
  };
}

export function listFiltersToSearch(filters: ListFilters): string {
  const params = new URLSearchParams();
  if (filters.q.trim()) params.set('q', filters.q.trim());
  if (filters.status) params.set('status', filters.status);
  if (filters.page > 1) params.set('page', String(filters.page));
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function adminEventQuery(filters: ListFilters): EventQuery {
  const query: EventQuery = { page: filters.page, per_page: ADMIN_PAGE_SIZE };
  const q = filters.q.trim().slice(0, 200);
  if (q) query.q = q;
  if (filters.status) query.status = filters.status;
  return query;
}

/** Seats of an event in all its sections. */
export function eventCapacity(event: { sections: ReadonlyArray<{ capacity: number }> }): number {
  return event.sections.reduce((n, s) => n + s.capacity, 0);
}
