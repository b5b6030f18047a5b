import { isApiError, type ApiError } from "./api/client";

/**
 * Latest answer of one API call plus its error, for pages that show the last good
 * data while a refresh fails. Answers to superseded requests are ignored.
 */
export class Resource<T> {
  data = $state<T | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(false);
  readonly #load: () => Promise<T>;
  #generation = 0;

  constructor(load: () => Promise<T>) {
    this.#load = load;
  }

  /** True until the first answer or error arrives. */
  get pending(): boolean {
    return this.data === null && this.error === null;
  }

  refresh = async (): Promise<void> => {
    const generation = ++this.#generation;
    this.loading = true;
    try {
      const data = await this.#load();
      if (generation !== this.#generation) return;
      this.data = data;
      this.error = null;
    } catch (cause) {
      if (generation !== this.#generation) return;
      this.error = isApiError(cause)
        ? cause
        : { code: "unknown", message: "The request failed for an unknown reason." };
    } finally {
      if (generation === this.#generation) this.loading = false;
    }
  };
}
