/**
 * A circuit breaker in front of the authorization service. While the service keeps failing,
 * calling it only adds load to something already down and makes every driver wait for the
 * timeout; the breaker answers at once instead (`unknown`, reason `circuit_open`).
 *
 * - `closed`: calls go through; `failureThreshold` consecutive failures open it.
 * - `open`: no calls for `openMs`; then the next call becomes the probe.
 * - `half_open`: exactly one probe is in flight; others are refused. Its success closes the
 *   circuit, its failure opens it again for another `openMs`.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  openMs: number;
  now?: () => number;
  onStateChange?: (state: CircuitState, previous: CircuitState) => void;
}

export class CircuitBreaker {
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  readonly #now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Whether a call may be made now. `true` in half-open means: you are the probe. */
  tryEnter(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.options.openMs) return false;
      this.#move('half_open');
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** Cheap pre-check that takes no probe slot: used before waiting for a permit. */
  isRefusing(): boolean {
    if (this.#state === 'open') return this.#now() - this.#openedAt < this.options.openMs;
    return this.#state === 'half_open' && this.#probing;
  }

  onSuccess(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') this.#move('closed');
  }

  onFailure(): void {
    this.#probing = false;
    this.#failures += 1;
    if (this.#state === 'half_open' || this.#failures >= this.options.failureThreshold) {
      this.#openedAt = this.#now();
      if (this.#state !== 'open') this.#move('open');
    }
  }

  #move(state: CircuitState): void {
    const previous = this.#state;
    this.#state = state;
    this.options.onStateChange?.(state, previous);
  }
}
