/**
 * Bounds concurrent callback attempts per receiver host, so one slow or hanging receiver cannot
 * take every delivery slot: once a host is at its limit, further callbacks to it are put back
 * in the queue for a while (without counting an attempt) and the slots go to other hosts.
 *
 * How long "a while" is adapts to the host: about as long as its attempts take. A fast host
 * at its limit frees a slot within milliseconds, so its callbacks come back almost at once; a
 * hanging one holds its slots until the timeout, so its callbacks are not churned through the
 * queue meanwhile.
 */
export class HostLimiter {
  readonly #hosts = new Map<string, { started: Set<number>; typicalMs: number | null }>();
  /** Callers waiting for a slot at a host, first come first served. */
  readonly #waiting = new Map<string, (() => void)[]>();

  constructor(
    readonly maxPerHost: number,
    private readonly bounds: { minDeferMs: number; maxDeferMs: number },
  ) {}

  /** Takes a slot for `host`; returns its start time, or `null` when the host is at its limit. */
  tryAcquire(host: string, now: number): number | null {
    const state = this.#hosts.get(host) ?? { started: new Set<number>(), typicalMs: null };
    if (state.started.size >= this.maxPerHost) return null;
    // Start times double as slot ids; nudge equal ones apart so each slot stays distinct.
    let slot = now;
    while (state.started.has(slot)) slot += 0.001;
    state.started.add(slot);
    this.#hosts.set(host, state);
    return slot;
  }

  /**
   * Takes a slot for `host`, waiting up to `waitMs` for one to free up: a host that answers in
   * milliseconds frees slots long before that, so its callbacks wait here briefly instead of
   * going back to the queue (which, at thousands per second, would churn the queue instead of
   * delivering). `null` when none freed up in time: the host is slow, defer the callback.
   */
  async acquire(host: string, waitMs: number, now: () => number): Promise<number | null> {
    const slot = this.tryAcquire(host, now());
    if (slot !== null || waitMs <= 0) return slot;
    const queue = this.#waiting.get(host) ?? [];
    this.#waiting.set(host, queue);
    const freed = await new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = queue.indexOf(wake);
        if (index >= 0) queue.splice(index, 1);
        resolve(false);
      }, waitMs);
      queue.push(wake);
    });
    if (queue.length === 0) this.#waiting.delete(host);
    return freed ? this.tryAcquire(host, now()) : null;
  }

  release(host: string, slot: number, now: number): void {
    const state = this.#hosts.get(host);
    if (!state) return;
    state.started.delete(slot);
    // Hand the freed slot to the longest waiter (it takes it synchronously on wake-up).
    this.#waiting.get(host)?.shift()?.();
    const took = now - slot;
    // Exponentially weighted: recent attempts count most, one outlier does not dominate.
    state.typicalMs = state.typicalMs === null ? took : 0.7 * state.typicalMs + 0.3 * took;
    if (state.started.size === 0 && state.typicalMs <= this.bounds.minDeferMs)
      this.#hosts.delete(host);
  }

  /** How long to defer a callback to a host at its limit. */
  deferMs(host: string, now: number): number {
    const state = this.#hosts.get(host);
    if (!state) return this.bounds.minDeferMs;
    const oldest = Math.min(...state.started);
    const runningFor = Number.isFinite(oldest) ? now - oldest : 0;
    const estimate = Math.max(state.typicalMs ?? 0, runningFor);
    return Math.min(this.bounds.maxDeferMs, Math.max(this.bounds.minDeferMs, estimate));
  }
}

/** The key deliveries are limited by: scheme, host and port, as connections are pooled. */
export function hostKey(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
