// A read the console repeats while a sale runs: on demand (a live update arrived), on a timer,
// never two at once, the last value kept on screen while the next one comes.
import { toApiError, type ApiError } from '../api/client';

export class Refreshing<T> {
  value = $state<T | undefined>(undefined);
  error = $state<ApiError | null>(null);
  loading = $state(false);
  #read: () => Promise<T>;
  #inFlight: Promise<void> | null = null;
  #again = false;

  constructor(read: () => Promise<T>, first?: Promise<T>) {
    this.#read = read;
    void this.#track(first ?? read());
  }

  /** Reads again (if a read is under way, once more after it). */
  refresh(): Promise<void> {
    if (this.#inFlight) {
      this.#again = true;
      return this.#inFlight;
    }
    return this.#track(this.#read());
  }

  #track(promise: Promise<T>): Promise<void> {
    this.loading = true;
    this.#inFlight = (async () => {
      try {
        this.value = await promise;
        this.error = null;
      } catch (error) {
        this.error = toApiError(error);
      } finally {
        this.loading = false;
        this.#inFlight = null;
      }
      if (this.#again) {
        this.#again = false;
        await this.refresh();
      }
    })();
    return this.#inFlight;
  }

  /** Re-reads every `ms` while the page is visible; returns the stop function. */
  every(ms: number): () => void {
    const timer = setInterval(() => {
      if (typeof document === 'undefined' || document.visibilityState === 'visible') void this.refresh();
    }, ms);
    return () => clearInterval(timer);
  }
}
