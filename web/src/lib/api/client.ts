// The typed API client: openapi-fetch over the generated schema, same origin, the session
// cookie sent by the browser (the app never sees a token). Every failure becomes one ApiError.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { serverClock } from '../time';
import { ApiError, toApiError } from './api-error';

export { ApiError, toApiError } from './api-error';
export type Schemas = components['schemas'];

const sentAt = new Map<string, number>();

/** Every answer's `Date` header tells us the server's clock (hold countdowns use it). */
const clockMiddleware: Middleware = {
  onRequest({ id }) {
    sentAt.set(id, Date.now());
  },
  onResponse({ id, response }) {
    const sent = sentAt.get(id);
    sentAt.delete(id);
    if (sent !== undefined) serverClock.observe(response.headers.get('date'), sent, Date.now());
  },
  onError({ id }) {
    sentAt.delete(id);
  },
};

export const api = createClient<paths>({
  baseUrl: typeof location === 'undefined' ? 'http://localhost' : location.origin,
  credentials: 'same-origin',
  headers: { accept: 'application/json' },
});
api.use(clockMiddleware);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits an openapi-fetch call: its data, or an ApiError (network failure included). */
export async function run<T>(request: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await request;
  } catch (error) {
    throw toApiError(error);
  }
  if (!result.response.ok || result.error !== undefined) {
    throw ApiError.fromResponse(result.response, result.error);
  }
  return result.data as T;
}

/**
 * An Idempotency-Key for one user action: the same key while the same action is retried (after
 * a network failure or a 503), a new one for the next action.
 */
export class ActionKey {
  #key = newKey();

  get value(): string {
    return this.#key;
  }

  /** After an answer that settled the action (success or a refusal), the next action gets a new key. */
  settle(error?: unknown): void {
    if (error instanceof ApiError && error.retryable) return;
    this.#key = newKey();
  }
}

export function newKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
