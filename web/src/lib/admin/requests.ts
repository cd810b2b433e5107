// The organiser's reads (admin and door staff APIs), typed from the generated schema.
import { api, run, type Schemas } from '../api/client';
import type { paths } from '../api/schema';

export type EventSales = Schemas['EventSales'];
export type SalesLine = Schemas['SalesLine'];
export type OrderView = Schemas['OrderView'];
export type OrderPage = Schemas['OrderPage'];
export type OrderQuery = NonNullable<paths['/api/events/{id}/reservations']['get']['parameters']['query']>;
export type TimeSeries = Schemas['TimeSeries'];
export type TopSellers = Schemas['TopSellers'];
export type Segments = Schemas['Segments'];
export type Popularity = Schemas['Popularity'];

export function getEventSales(id: string): Promise<EventSales> {
  return run(api.GET('/api/events/{id}/analytics', { params: { path: { id } } }));
}

export function listEventOrders(id: string, query: OrderQuery): Promise<OrderPage> {
  return run(api.GET('/api/events/{id}/reservations', { params: { path: { id }, query } }));
}

export function getTimeSeries(days: number, eventId?: string): Promise<TimeSeries> {
  return run(api.GET('/api/analytics/sales/time-series', { params: { query: { days, event_id: eventId } } }));
}

export function getTopSellers(limit: number): Promise<TopSellers> {
  return run(api.GET('/api/analytics/events/top-sellers', { params: { query: { limit } } }));
}

export function getSegments(): Promise<Segments> {
  return run(api.GET('/api/analytics/customers/segments'));
}

export function getPopularity(eventId?: string): Promise<Popularity> {
  return run(api.GET('/api/analytics/sections/popularity', { params: { query: { event_id: eventId } } }));
}
