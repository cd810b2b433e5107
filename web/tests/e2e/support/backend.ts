// The server's truth and the stories' test data, through the API (Bearer sessions, as an API
// client would use; the browser's own session is its cookie).
import { randomUUID } from 'node:crypto';
import { expect, type APIRequestContext, type BrowserContext } from '@playwright/test';
import { newestSignInMail, signInToken } from './mailbox';

export const ADMIN_EMAIL = 'admin@e2e.test';
export const STAFF_EMAIL = 'door@e2e.test';

export function uniqueEmail(who: string): string {
  return `${who}-${randomUUID().slice(0, 8)}@e2e.test`;
}

export interface SectionSpec {
  name: string;
  capacity: number;
  seating: 'general' | 'numbered';
  rows?: number;
  seats_per_row?: number;
  base_price_cents: number;
}

export interface ApiEvent {
  event_id: string;
  name: string;
  date: string;
  status: string;
  sections: Array<{ name: string; current_price_cents: number; capacity: number; seating: string }>;
}

export interface ApiReservation {
  reservation_id: string;
  status: string;
  total_amount_cents: number;
  payment_id?: string | null;
  seats: Array<{ seat_id: string; seat_number?: string | null }>;
  tickets?: Array<{ ticket_id: string; seat_number?: string | null }>;
}

export class ApiSession {
  constructor(
    readonly request: APIRequestContext,
    readonly token: string,
    readonly email: string,
  ) {}

  private headers(extra: Record<string, string> = {}) {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async get<T>(path: string): Promise<T> {
    const response = await this.request.get(path, { headers: this.headers() });
    expect(response.status(), `GET ${path}: ${await response.text()}`).toBeLessThan(300);
    return (await response.json()) as T;
  }

  async post<T>(path: string, data?: unknown, expectedStatus?: number): Promise<T> {
    // 503 means "nothing was changed, retry" (API contract): the same request, same key, again.
    const key = randomUUID();
    let response = await this.request.post(path, { headers: this.headers({ 'idempotency-key': key }), data: data ?? {} });
    for (let attempt = 1; attempt < 4 && response.status() === 503; attempt += 1) {
      console.warn(`POST ${path} answered 503 (${await response.text()}); retrying`);
      await new Promise((done) => setTimeout(done, 500 * attempt));
      response = await this.request.post(path, { headers: this.headers({ 'idempotency-key': key }), data: data ?? {} });
    }
    if (expectedStatus) expect(response.status(), `POST ${path}: ${await response.text()}`).toBe(expectedStatus);
    else expect(response.status(), `POST ${path}: ${await response.text()}`).toBeLessThan(300);
    return (await response.json()) as T;
  }

  /** An event on sale, `daysAhead` days from now. */
  async createEvent(name: string, sections: SectionSpec[], daysAhead = 60, extra: Record<string, unknown> = {}): Promise<ApiEvent> {
    const date = new Date(Date.now() + daysAhead * 86_400_000);
    date.setUTCMinutes(0, 0, 0);
    const created = await this.post<ApiEvent>(
      '/api/events',
      { name, date: date.toISOString(), category: 'concert', venue: { name: 'Salle Pleyel', city: 'Paris', country: 'FR' }, sections, ...extra },
      201,
    );
    await this.post(`/api/events/${created.event_id}/publish`);
    return await this.post<ApiEvent>(`/api/events/${created.event_id}/sales/open`);
  }

  /** Holds and pays (the success card): a completed reservation with tickets. */
  async buy(eventId: string, section: string, seats: string[] | number): Promise<ApiReservation> {
    const body = Array.isArray(seats)
      ? { event_id: eventId, section, quantity: seats.length, specific_seats: seats }
      : { event_id: eventId, section, quantity: seats };
    const held = await this.post<ApiReservation>('/api/reservations', body, 201);
    return await this.post<ApiReservation>(`/api/reservations/${held.reservation_id}/payment`, {
      payment_method: { type: 'card', card_number: '4242424242424242', expiry: '12/39', cvc: '123' },
    });
  }
}

/** Mails a sign-in link to `email` and redeems its token without an Origin: a Bearer session. */
export async function apiSignIn(request: APIRequestContext, email: string): Promise<ApiSession> {
  const since = Date.now();
  const sent = await request.post('/api/auth/magic-link/send', { data: { email } });
  expect(sent.status(), await sent.text()).toBe(202);
  const token = signInToken(await newestSignInMail(email, since));
  const verified = await request.post('/api/auth/magic-link/verify', { data: { token } });
  expect(verified.status(), await verified.text()).toBe(200);
  const body = (await verified.json()) as { session_token?: string };
  if (!body.session_token) throw new Error('the API answered without a session_token');
  return new ApiSession(request, body.session_token, email);
}

/**
 * Signs a browser context in (its cookie) without clicking through the sign-in page: the same
 * magic link, redeemed by the context's own request API with the app's Origin.
 */
export async function signInContext(context: BrowserContext, baseURL: string, email: string): Promise<void> {
  const since = Date.now();
  const sent = await context.request.post(`${baseURL}/api/auth/magic-link/send`, { data: { email }, headers: { origin: baseURL } });
  expect(sent.status(), await sent.text()).toBe(202);
  const token = signInToken(await newestSignInMail(email, since));
  const verified = await context.request.post(`${baseURL}/api/auth/magic-link/verify`, { data: { token }, headers: { origin: baseURL } });
  expect(verified.status(), await verified.text()).toBe(200);
}

/**
 * Gives a browser context an API session as its cookie (the cookie holds the session token), so
 * stories can open the console as the admin without another magic link (five an hour per address).
 */
export async function useSession(context: BrowserContext, baseURL: string, session: ApiSession): Promise<void> {
  await context.addCookies([{ name: 'ticketing_session', value: session.token, url: baseURL, httpOnly: true, sameSite: 'Strict' }]);
}
