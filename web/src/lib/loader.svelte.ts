// A page's data as it arrives: the value, the error, and whether a read is under way. The first
// read is the promise the page's +page.ts started; `reload()` reads again (after a refusal the
// app re-reads the server's truth instead of guessing).
import { untrack } from 'svelte';
import { toApiError, type ApiError } from './api/client';

export class Loader<T> {
  value = $state<T | undefined>(undefined);
  error = $state<ApiError | null>(null);
  loading = $state(true);
  #seq = 0;
  #refetch: () => Promise<T>;

  /**
   * `source` gives the promise of the current page data (it is re-read when the page's data
   * changes, e.g. another id); `refetch` reads again on demand.
   */
  constructor(source: () => Promise<T>, refetch: () => Promise<T>) {
    this.#refetch = refetch;
    $effect.pre(() => {
      const promise = source();
      untrack(() => {
        this.value = undefined;
        void this.#track(promise);
      });
    });
  }

  /** Reads again; the current value stays on screen until the answer arrives. */
  reload(): Promise<void> {
    return this.#track(this.#refetch());
  }

  /** Shows a value the app already has from the server (e.g. the answer to a POST). */
  set(value: T): void {
    this.#seq += 1;
    this.value = value;
    this.error = null;
    this.loading = false;
  }

  async #track(promise: Promise<T>): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const value = await promise;
      if (seq === this.#seq) {
        this.value = value;
        this.error = null;
      }
    } catch (error) {
      if (seq === this.#seq) this.error = toApiError(error);
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}
