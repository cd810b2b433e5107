// What a door let in while offline, kept on the device (localStorage) until the server has it.
// Each scan is sent once with its own Idempotency-Key and the time it was scanned; the server's
// answer says whether another door had let the ticket in first (a duplicate).

export interface QueuedScan {
  /** Also the Idempotency-Key of its POST. */
  id: string;
  code: string;
  ticketId: string;
  seat: string | null;
  /** RFC 3339, when the door let the person in. */
  scannedAt: string;
}

/** The server's verdict on a synced scan (the API's CheckInResult). */
export interface CheckInAnswer {
  result: 'admitted' | 'already_admitted' | 'invalid';
  first_admitted_at?: string | null;
  reason?: string | null;
  seat_number?: string | null;
}

export interface SyncReport {
  scan: QueuedScan;
  /** confirmed: the server agrees; duplicate: another door let it in first; invalid: it should not have got in. */
  outcome: 'confirmed' | 'duplicate' | 'invalid';
  firstAdmittedAt?: string | null;
  reason?: string | null;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

interface Stored {
  queue: QueuedScan[];
  /** Ticket id → when this device let it in (online or offline), to refuse a second entry offline. */
  admitted: Record<string, string>;
}

function isScan(value: unknown): value is QueuedScan {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.code === 'string' && typeof v.ticketId === 'string' && typeof v.scannedAt === 'string';
}

export class ScanQueue {
  readonly #store: KeyValueStore | null;
  readonly #key: string;
  #data: Stored = { queue: [], admitted: {} };

  constructor(store: KeyValueStore | null, eventId: string) {
    this.#store = store;
    this.#key = `ticketing.door.${eventId}`;
    this.#load();
  }

  #load(): void {
    try {
      const raw = this.#store?.getItem(this.#key);
      if (!raw) return;
      const parsed = JSON.parse(raw) as Partial<Stored>;
      this.#data = {
        queue: Array.isArray(parsed.queue) ? parsed.queue.filter(isScan) : [],
        admitted: parsed.admitted && typeof parsed.admitted === 'object' ? { ...parsed.admitted } : {},
      };
    } catch {
      // A broken entry: start empty rather than stop the door.
    }
  }

  #save(): void {
    try {
      this.#store?.setItem(this.#key, JSON.stringify(this.#data));
    } catch {
      // Storage full or off: the queue still lives in memory while the page stays open.
    }
  }

  get pending(): QueuedScan[] {
    return [...this.#data.queue];
  }

  /** When this device let the ticket in, if it did. */
  admittedAt(ticketId: string): string | null {
    return this.#data.admitted[ticketId] ?? null;
  }

  /** Remembers a ticket let in while the server said so (online). */
  rememberAdmitted(ticketId: string, at: string): void {
    if (this.#data.admitted[ticketId]) return;
    this.#data.admitted[ticketId] = at;
    this.#save();
  }

  /** Lets a ticket in offline: queued for the server, and remembered. */
  add(scan: QueuedScan): void {
    this.#data.queue.push(scan);
    this.#data.admitted[scan.ticketId] ??= scan.scannedAt;
    this.#save();
  }

  remove(id: string): void {
    this.#data.queue = this.#data.queue.filter((s) => s.id !== id);
    this.#save();
  }
}

/** The outcome of a synced scan, from the server's verdict. */
export function reportOf(scan: QueuedScan, answer: CheckInAnswer): SyncReport {
  if (answer.result === 'admitted') return { scan, outcome: 'confirmed', firstAdmittedAt: answer.first_admitted_at };
  if (answer.result === 'already_admitted') return { scan, outcome: 'duplicate', firstAdmittedAt: answer.first_admitted_at };
  return { scan, outcome: 'invalid', reason: answer.reason };
}

export interface SyncResult {
  reports: SyncReport[];
  /** The network failed part way: the rest stays queued for the next try. */
  interrupted: boolean;
}

/**
 * Sends every queued scan, oldest first, and drops each the server answered. Stops at the first
 * failure (offline again, server down); a refusal of the request itself drops the scan with an
 * `invalid` report so one bad entry cannot block the queue.
 */
export async function syncQueue(
  queue: ScanQueue,
  post: (scan: QueuedScan) => Promise<CheckInAnswer>,
  isTransient: (error: unknown) => boolean,
): Promise<SyncResult> {
  const reports: SyncReport[] = [];
  for (const scan of queue.pending) {
    let answer: CheckInAnswer;
    try {
      answer = await post(scan);
    } catch (error) {
      if (isTransient(error)) return { reports, interrupted: true };
      answer = { result: 'invalid', reason: 'refused' };
    }
    queue.remove(scan.id);
    reports.push(reportOf(scan, answer));
  }
  return { reports, interrupted: false };
}
