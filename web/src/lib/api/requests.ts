// The reads pages start from their +page.ts (and re-read after a change).
import { api, run, type Schemas } from './client';
import type { paths } from './schema';

export type Event = Schemas['Event'];
export type EventSection = Schemas['EventSection'];
export type SectionDetail = Schemas['SectionDetail'];
export type Reservation = Schemas['Reservation'];
export type ReservationRow = Schemas['ReservationRow'];
export type Ticket = Schemas['OwnedTicket'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type Payment = Schemas['Payment'];
export type Purchase = Schemas['Purchase'];
export type LifetimeValue = Schemas['LifetimeValue'];

/** Reads every page of a paginated list (100 a page, at most `maxPages`). */
async function allPages<T>(read: (page: number) => Promise<{ items: T[]; total: number }>, maxPages = 10): Promise<T[]> {
  const items: T[] = [];
  for (let page = 1; page <= maxPages; page += 1) {
    const answer = await read(page);
    items.push(...answer.items);
    if (items.length >= answer.total || answer.items.length === 0) break;
  }
  return items;
}

export type EventQuery = NonNullable<paths['/api/events']['get']['parameters']['query']>;
export type EventPage = Schemas['EventPage'];

/** One page of the catalogue, filtered by the server (admins also see drafts). */
export function listEvents(query: EventQuery): Promise<EventPage> {
  return run(api.GET('/api/events', { params: { query } }));
}

const eventCache = new Map<string, Promise<Event>>();

export function getEvent(id: string): Promise<Event> {
  const promise = run(api.GET('/api/events/{id}', { params: { path: { id } } }));
  eventCache.set(id, promise);
  promise.catch(() => eventCache.delete(id));
  return promise;
}

/** An event as recently read (orders and tickets show the event's name and date). */
export function getEventCached(id: string): Promise<Event> {
  return eventCache.get(id) ?? getEvent(id);
}

export function getAvailability(id: string) {
  return run(api.GET('/api/events/{id}/availability', { params: { path: { id } } }));
}

export function getSection(id: string, section: string): Promise<SectionDetail> {
  return run(api.GET('/api/events/{id}/sections/{section}', { params: { path: { id, section } } }));
}

export function getReservation(id: string): Promise<Reservation> {
  return run(api.GET('/api/reservations/{id}', { params: { path: { id } } }));
}

/** The caller's reservations, newest first. */
export function listReservations(): Promise<ReservationRow[]> {
  return allPages(async (page) => {
    const answer = await run(api.GET('/api/reservations', { params: { query: { page, per_page: 100 } } }));
    return { items: answer.reservations, total: answer.total };
  });
}

export function getHistory(id: string): Promise<HistoryEntry[]> {
  return run(api.GET('/api/reservations/{id}/history', { params: { path: { id } } }));
}

export function getPayment(id: string): Promise<Payment> {
  return run(api.GET('/api/payments/{id}', { params: { path: { id } } }));
}

/** The tickets the caller holds now. */
export function listTickets(): Promise<Ticket[]> {
  return allPages(async (page) => {
    const answer = await run(api.GET('/api/tickets', { params: { query: { page, per_page: 100 } } }));
    return { items: answer.tickets, total: answer.total };
  });
}
