// Who is signed in. The session is the HttpOnly cookie; the app learns the user from
// GET /api/auth/session at start (401 = signed out) and after every sign-in or sign-out.
import { api, run, ApiError, toApiError, type Schemas } from './api/client';

export type User = Schemas['User'];

const NEXT_KEY = 'ticketing.next';

class Session {
  user = $state<User | null>(null);
  expiresAt = $state<string | null>(null);
  /** false until the first answer (or failure) from /api/auth/session. */
  ready = $state(false);
  /** The server could not tell (unreachable): pages still work for signed-out browsing. */
  error = $state<ApiError | null>(null);

  #first: Promise<void> | null = null;

  get signedIn(): boolean {
    return this.user !== null;
  }

  /** The first answer about who this is (asked once; pages that need it before rendering wait). */
  ensure(): Promise<void> {
    this.#first ??= this.refresh();
    return this.#first;
  }

  /** Asks the server who this is (once at start; again after a sign-in or sign-out). */
  async refresh(): Promise<void> {
    try {
      const answer = await run(api.GET('/api/auth/session'));
      this.user = answer.user;
      this.expiresAt = answer.expires_at;
      this.error = null;
    } catch (error) {
      const e = toApiError(error);
      if (e.status === 401) {
        this.user = null;
        this.expiresAt = null;
        this.error = null;
      } else {
        this.error = e;
      }
    } finally {
      this.ready = true;
    }
  }

  async signOut(): Promise<void> {
    await run(api.POST('/api/auth/logout', {}));
    this.#forget();
  }

  async signOutEverywhere(): Promise<void> {
    await run(api.POST('/api/auth/logout-all', {}));
    this.#forget();
  }

  /** Called after a 401 from any request: the cookie is gone or dead. */
  expired(): void {
    this.#forget();
  }

  #forget(): void {
    this.user = null;
    this.expiresAt = null;
  }
}

export const session = new Session();

/** Where to go after signing in: remembered across the magic-link round trip (same tab). */
export function rememberNext(path: string): void {
  try {
    sessionStorage.setItem(NEXT_KEY, safeNext(path));
  } catch {
    // Storage may be off (private mode): the user lands on the catalogue instead.
  }
}

export function takeNext(): string {
  try {
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    return safeNext(next ?? '/');
  } catch {
    return '/';
  }
}

/** Only paths on this site (no `//evil.example`, no `javascript:`). */
export function safeNext(path: string | null | undefined): string {
  if (!path || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) return '/';
  if (path.startsWith('/signin') || path.startsWith('/auth/')) return '/';
  return path;
}
