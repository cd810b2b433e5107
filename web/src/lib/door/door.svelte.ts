// One door of one event: scans go to the server while it can be reached; without a network the
// door checks signatures itself, lets real tickets in once, queues them, and syncs them later.
import { api, newKey, run, toApiError, type ApiError, type Schemas } from '../api/client';
import { verifyCode, type PublicKey } from './code';
import { ScanQueue, syncQueue, type CheckInAnswer, type KeyValueStore, type QueuedScan, type SyncReport } from './queue';

export type Kind = 'admitted' | 'already' | 'invalid';

export interface Verdict {
  id: string;
  kind: Kind;
  /** Decided on this device without the server. */
  offline: boolean;
  seat: string | null;
  /** already: when it was first let in. */
  firstAt?: string | null;
  reason?: string | null;
  at: string;
}

const KEYS_KEY = 'ticketing.door.keys';
const SYNC_EVERY_MS = 10_000;
const RECENT = 8;

function storage(): KeyValueStore | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export class Door {
  readonly eventId: string;
  keys = $state<PublicKey[]>([]);
  /** The keys could not be read and none are stored: offline checks are impossible. */
  keysMissing = $state(false);
  online = $state(true);
  verdict = $state<Verdict | null>(null);
  recent = $state<Verdict[]>([]);
  pending = $state(0);
  syncing = $state(false);
  reports = $state<SyncReport[]>([]);
  /** A failure that is not a verdict (signed out, not allowed...). */
  problem = $state<ApiError | null>(null);
  checking = $state(false);
  #queue: ScanQueue;

  constructor(eventId: string) {
    this.eventId = eventId.toLowerCase();
    this.#queue = new ScanQueue(storage(), this.eventId);
    this.pending = this.#queue.pending.length;
  }

  /** Listens to the network and syncs now and then; returns the stop function. */
  start(): () => void {
    this.online = typeof navigator === 'undefined' ? true : navigator.onLine;
    void this.loadKeys();
    const online = () => {
      this.online = true;
      void this.loadKeys().then(() => this.sync());
    };
    const offline = () => {
      this.online = false;
    };
    window.addEventListener('online', online);
    window.addEventListener('offline', offline);
    // The browser's online/offline events are a hint: every few seconds the door checks for
    // itself whether the server answers again, and sends what is waiting.
    const timer = setInterval(() => void this.#tick(), SYNC_EVERY_MS);
    if (this.pending > 0) void this.sync();
    return () => {
      window.removeEventListener('online', online);
      window.removeEventListener('offline', offline);
      clearInterval(timer);
    };
  }

  async #tick(): Promise<void> {
    if (!this.online && !(await this.loadKeys())) return;
    this.online = true;
    if (this.pending > 0) await this.sync();
  }

  /** Reads the public keys (kept for offline use); false when the server could not be reached. */
  async loadKeys(): Promise<boolean> {
    try {
      const answer = await run(api.GET('/api/checkin/key'));
      this.keys = answer.keys;
      this.keysMissing = false;
      try {
        storage()?.setItem(KEYS_KEY, JSON.stringify(answer.keys));
      } catch {
        // Kept in memory only.
      }
      return true;
    } catch {
      if (this.keys.length > 0) return false;
      try {
        const stored = JSON.parse(storage()?.getItem(KEYS_KEY) ?? '[]') as PublicKey[];
        this.keys = Array.isArray(stored) ? stored.filter((k) => typeof k?.key_id === 'string' && typeof k?.public_key === 'string') : [];
      } catch {
        this.keys = [];
      }
      this.keysMissing = this.keys.length === 0;
      return false;
    }
  }

  #show(verdict: Verdict): void {
    this.verdict = verdict;
    this.recent = [verdict, ...this.recent].slice(0, RECENT);
  }

  /** Checks one scanned or typed code. */
  async scan(raw: string): Promise<Verdict | null> {
    const code = raw.trim();
    if (!code || this.checking) return null;
    this.checking = true;
    this.problem = null;
    const at = new Date(Date.now()).toISOString(); // eslint-disable-line svelte/prefer-svelte-reactivity -- a timestamp, not state
    try {
      if (this.online) {
        try {
          const answer = await run(
            api.POST('/api/checkin', {
              params: { header: { 'Idempotency-Key': newKey() } },
              body: { event_id: this.eventId, code },
            }),
          );
          const verdict = this.#fromServer(answer, at);
          this.#show(verdict);
          return verdict;
        } catch (error) {
          const e = toApiError(error);
          if (!e.retryable) {
            this.problem = e;
            return null;
          }
          // Unreachable or down: the door carries on by itself.
          if (e.unreachable) this.online = false;
        }
      }
      const verdict = await this.#offline(code, at);
      this.#show(verdict);
      return verdict;
    } finally {
      this.checking = false;
    }
  }

  #fromServer(answer: Schemas['CheckInResult'], at: string): Verdict {
    const base = { id: newKey(), offline: false, seat: answer.seat_number ?? null, at };
    if (answer.result === 'admitted') {
      if (answer.ticket_id) this.#queue.rememberAdmitted(answer.ticket_id, answer.first_admitted_at ?? at);
      return { ...base, kind: 'admitted' };
    }
    if (answer.result === 'already_admitted') return { ...base, kind: 'already', firstAt: answer.first_admitted_at ?? null };
    return { ...base, kind: 'invalid', reason: answer.reason ?? null };
  }

  async #offline(code: string, at: string): Promise<Verdict> {
    const local = await verifyCode(code, this.keys, this.eventId);
    const base = { id: newKey(), offline: true, at };
    if (!local.ok) {
      const reason = local.reason === 'unknown_key' && this.keys.length === 0 ? 'no_keys' : local.reason;
      return { ...base, kind: 'invalid', seat: null, reason };
    }
    const { ticketId, seat } = local.claims;
    const first = this.#queue.admittedAt(ticketId);
    if (first) return { ...base, kind: 'already', seat, firstAt: first };
    const scan: QueuedScan = { id: newKey(), code, ticketId, seat, scannedAt: at };
    this.#queue.add(scan);
    this.pending = this.#queue.pending.length;
    return { ...base, kind: 'admitted', seat };
  }

  /** Sends what was let in offline; reports duplicates and refusals. */
  async sync(): Promise<void> {
    if (this.syncing || !this.online || this.#queue.pending.length === 0) return;
    this.syncing = true;
    try {
      const result = await syncQueue(
        this.#queue,
        (scan) =>
          run(
            api.POST('/api/checkin', {
              params: { header: { 'Idempotency-Key': scan.id } },
              body: { event_id: this.eventId, code: scan.code, scanned_at: scan.scannedAt },
            }),
          ) as Promise<CheckInAnswer>,
        (error) => {
          const e = toApiError(error);
          return e.retryable || e.status === 401;
        },
      );
      if (result.reports.length > 0) this.reports = [...result.reports, ...this.reports];
      // Interrupted: the network (or the server) is gone again; the timer tries later.
      if (result.interrupted) this.online = false;
    } finally {
      this.pending = this.#queue.pending.length;
      this.syncing = false;
    }
  }
}
