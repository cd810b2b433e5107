// The orders of an event as the organiser searches them: by buyer email and status, by page.
import type { OrderQuery } from './requests';

export const ORDERS_PAGE_SIZE = 20;

export const ORDER_STATUSES = ['completed', 'refunded', 'seats_reserved', 'payment_pending', 'expired', 'cancelled', 'compensated'] as const;

export interface OrderFilters {
  email: string;
  status: string;
  page: number;
}

export function orderFiltersFrom(params: URLSearchParams): OrderFilters {
  const page = Number(params.get('page') ?? '1');
  const status = params.get('status') ?? '';
  return {
    email: (params.get('email') ?? '').trim(),
    status: (ORDER_STATUSES as readonly string[]).includes(status) ? status : '',
    page: Number.isInteger(page) && page > 0 ? Math.min(page, 10_000) : 1,
  };
}

export function orderFiltersToSearch(filters: OrderFilters): string {
  const params = new URLSearchParams();
  if (filters.email.trim()) params.set('email', filters.email.trim());
  if (filters.status) params.set('status', filters.status);
  if (filters.page > 1) params.set('page', String(filters.page));
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function orderQuery(filters: OrderFilters): OrderQuery {
  const query: OrderQuery = { page: filters.page, per_page: ORDERS_PAGE_SIZE };
  if (filters.email) query.email = filters.email.slice(0, 254);
  if (filters.status) query.status = filters.status;
  return query;
}

/** The seats of an order row ("A-3, A-4"), from its untyped `seats` list. */
export function orderSeats(seats: unknown): string[] {
  if (!Array.isArray(seats)) return [];
  return seats
    .map((s) => (s && typeof s === 'object' ? (s as { seat_number?: unknown }).seat_number : null))
    .filter((s): s is string => typeof s === 'string');
}
