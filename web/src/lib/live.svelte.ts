// Live availability of one event: one WebSocket per watched event (the cookie authenticates
// it), reconnecting with exponential backoff and jitter. Signed-out visitors, and anyone whose
// socket keeps failing, poll GET /api/events/{id}/availability every few seconds instead.
import { api, run, type Schemas } from './api/client';
import { backoffDelay } from './backoff';

export type SectionCounts = Schemas['SectionCounts'];
export type Mode = 'connecting' | 'live' | 'polling' | 'stopped';

export const POLL_INTERVAL_MS = 3_000;

interface AvailabilityMessage {
  type: 'availability';
  event_id: string;
  sections: Record<string, SectionCounts>;
  timestamp?: string;
}

type Message = AvailabilityMessage | { type: 'ping' } | { type: 'error'; message: string };

function parse(data: unknown): Message | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data) as { type?: unknown };
    if (value && (value.type === 'availability' || value.type === 'ping' || value.type === 'error')) return value as Message;
  } catch {
    // not ours
  }
  return null;
}

export class LiveAvailability {
  sections = $state<Record<string, SectionCounts>>({});
  mode = $state<Mode>('connecting');
  /** Bumped on every update: seat maps re-read their section when it changes. */
  version = $state(0);
  /** When the last update arrived (the browser's time). */
  updatedAt = $state<number | null>(null);
  /** The last read failed (and no live data since). */
  failing = $state(false);

  readonly eventId: string;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  #watchers = 0;
  #useSocket: boolean;

  constructor(eventId: string, useSocket: boolean) {
    this.eventId = eventId;
    this.#useSocket = useSocket && typeof WebSocket !== 'undefined';
  }

  start(): void {
    this.#stopped = false;
    void this.poll();
    if (this.#useSocket) this.#connect();
    else this.#startPolling();
  }

  stop(): void {
    this.#stopped = true;
    this.mode = 'stopped';
    this.#stopPolling();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'leaving');
  }

  /** Switches between the socket (signed in) and polling (signed out). */
  setSignedIn(signedIn: boolean): void {
    const useSocket = signedIn && typeof WebSocket !== 'undefined';
    if (useSocket === this.#useSocket || this.#stopped) return;
    this.#useSocket = useSocket;
    if (useSocket) {
      this.#attempt = 0;
      this.#connect();
    } else {
      const socket = this.#socket;
      this.#socket = null;
      socket?.close(1000, 'signed out');
      this.#startPolling();
    }
  }

  /** Reads the counts once over HTTP (also the polling step). */
  async poll(): Promise<void> {
    try {
      const answer = await run(api.GET('/api/events/{id}/availability', { params: { path: { id: this.eventId } } }));
      if (!this.#stopped) this.#apply(answer.sections);
    } catch {
      if (!this.#stopped) this.failing = true;
    }
  }

  #apply(sections: Record<string, SectionCounts>): void {
    this.sections = sections;
    this.version += 1;
    this.updatedAt = Date.now();
    this.failing = false;
  }

  #connect(): void {
    if (this.#stopped || this.#socket) return;
    this.mode = this.#pollTimer ? 'polling' : 'connecting';
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let socket: WebSocket;
    try {
      socket = new WebSocket(`${scheme}://${location.host}/ws/events/${encodeURIComponent(this.eventId)}/availability`);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      this.mode = 'live';
      this.#stopPolling();
    };
    socket.onmessage = (message: MessageEvent) => {
      const parsed = parse(message.data);
      if (parsed?.type === 'availability' && parsed.event_id === this.eventId) this.#apply(parsed.sections);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (!this.#stopped && this.#useSocket) this.#scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  #scheduleReconnect(): void {
    // Until the socket is back, keep the numbers fresh by polling.
    this.#startPolling();
    const delay = backoffDelay(this.#attempt);
    this.#attempt += 1;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }

  #startPolling(): void {
    this.mode = 'polling';
    if (this.#pollTimer) return;
    this.#pollTimer = setInterval(() => void this.poll(), POLL_INTERVAL_MS);
  }

  #stopPolling(): void {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  /** Reference counting for the registry below. */
  retain(): void {
    this.#watchers += 1;
  }

  release(): boolean {
    this.#watchers -= 1;
    return this.#watchers <= 0;
  }
}

// A registry, not state: nothing renders from it.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const watched = new Map<string, LiveAvailability>();

/**
 * Watches an event's availability; the same event watched twice shares one socket. Call the
 * returned function to stop watching.
 */
export function watchAvailability(eventId: string, signedIn: boolean): { live: LiveAvailability; unwatch: () => void } {
  let live = watched.get(eventId);
  if (!live) {
    live = new LiveAvailability(eventId, signedIn);
    watched.set(eventId, live);
    live.start();
  } else {
    live.setSignedIn(signedIn);
  }
  live.retain();
  const current = live;
  return {
    live: current,
    unwatch: () => {
      if (current.release()) {
        current.stop();
        watched.delete(eventId);
      }
    },
  };
}
