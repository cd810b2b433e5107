// Times in the visitor's zone, and the server's clock for countdowns.
//
// A hold ends at the server's `expires_at`; the browser's clock may be minutes off. Every API
// answer carries a `Date` header (whole seconds): each one bounds the offset between the server's
// clock and ours, and the bounds of all answers seen so far are intersected.

export class ServerClock {
  #lo = -Infinity;
  #hi = Infinity;
  #samples = 0;

  /**
   * One answer: the server stamped `dateHeader` (truncated to the second) somewhere between
   * `sentAt` and `receivedAt` (our `Date.now()` when we sent the request and read the answer).
   */
  observe(dateHeader: string | null | undefined, sentAt: number, receivedAt: number): void {
    if (!dateHeader) return;
    const stamped = Date.parse(dateHeader);
    if (Number.isNaN(stamped)) return;
    // The server's true time was in [stamped, stamped + 1000) while ours was in [sentAt, receivedAt].
    const lo = stamped - receivedAt;
    const hi = stamped + 1000 - sentAt;
    const nextLo = Math.max(this.#lo, lo);
    const nextHi = Math.min(this.#hi, hi);
    if (nextLo > nextHi) {
      // A clock jumped (ours or theirs): start again from this answer.
      this.#lo = lo;
      this.#hi = hi;
    } else {
      this.#lo = nextLo;
      this.#hi = nextHi;
    }
    this.#samples += 1;
  }

  /** Milliseconds to add to `Date.now()` to get the server's time (0 until an answer is seen). */
  get offset(): number {
    if (this.#samples === 0) return 0;
    return Math.round((this.#lo + this.#hi) / 2);
  }

  get samples(): number {
    return this.#samples;
  }

  /** The server's time now, in milliseconds since the epoch. */
  now(local: number = Date.now()): number {
    return local + this.offset;
  }
}

export const serverClock = new ServerClock();

/** Milliseconds left until `expiresAt` at server time `nowMs` (never negative). */
export function remainingMs(expiresAt: string | number, nowMs: number): number {
  const end = typeof expiresAt === 'number' ? expiresAt : Date.parse(expiresAt);
  return Math.max(0, end - nowMs);
}

/** 299_400 → "4:59" (rounded up, so "0:00" shows only when the time is really up). */
export function formatCountdown(ms: number): string {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${minutes}:${seconds.toString().padStart(2, '0')}`;
}

/** Words for a screen reader: "4 minutes 5 seconds". */
export function describeCountdown(ms: number): string {
  const total = Math.ceil(Math.max(0, ms) / 1000);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  const parts: string[] = [];
  if (minutes > 0) parts.push(`${minutes} minute${minutes === 1 ? '' : 's'}`);
  if (seconds > 0 || minutes === 0) parts.push(`${seconds} second${seconds === 1 ? '' : 's'}`);
  return parts.join(' ');
}

interface ZoneOptions {
  locale?: string;
  timeZone?: string;
}

/** "Sat 14 Mar 2026, 20:00" in the visitor's zone. */
export function formatDateTime(iso: string, { locale, timeZone }: ZoneOptions = {}): string {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone,
  }).format(new Date(iso));
}

/** "14 Mar 2026" in the visitor's zone. */
export function formatDate(iso: string, { locale, timeZone }: ZoneOptions = {}): string {
  return new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short', year: 'numeric', timeZone }).format(
    new Date(iso),
  );
}

/** "20:00:05" in the visitor's zone (history timelines). */
export function formatTime(iso: string, { locale, timeZone }: ZoneOptions = {}): string {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone }).format(
    new Date(iso),
  );
}

/** The start of the day `yyyy-mm-dd` (from a date input) in the visitor's zone, as epoch ms. */
export function startOfLocalDay(day: string): number {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1).getTime();
}

/** The end of the day `yyyy-mm-dd` in the visitor's zone (exclusive), as epoch ms. */
export function endOfLocalDay(day: string): number {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + 1).getTime();
}
