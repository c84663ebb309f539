/**
 * Bounds concurrent callback attempts per receiver host, so one slow or hanging receiver cannot
 * take every delivery slot: once a host is at its limit, further callbacks to it are put back
 * in the queue for a while (without counting an attempt) and the slots go to other hosts.
 *
 * How long "a while" is adapts to the host: about as long as its attempts take. A fast host
 * at its limit frees a slot within milliseconds, so its callbacks come back almost at once; a
 * hanging one holds its slots until the timeout, so its callbacks are not churned through the
 * queue meanwhile.
 *
 * Fair across hosts: a quarter of all slots is kept for hosts that hold almost none, so a few
 * hanging receivers, each within its own limit, cannot fill every slot between them; and a host
 * whose attempts keep timing out gets an eighth of its limit until one is answered.
 *
 * Bounded: the state of hosts with nothing in flight is forgotten once it is old or too many
 * hosts are known, so a stream of distinct receivers cannot grow memory.
 */

/** Consecutive timed-out attempts that put a host on the reduced limit. */
const PENALTY_AFTER_TIMEOUTS = 2;
/** Hosts whose state is kept with nothing in flight; beyond it the oldest idle ones go. */
const MAX_IDLE_HOSTS = 10_000;
/** An idle host's state (typical duration, timeouts) is forgotten after this. */
const IDLE_TTL_MS = 10 * 60_000;

interface HostState {
  started: Set<number>;
  typicalMs: number | null;
  /** Attempts that timed out in a row. */
  timeouts: number;
  lastUsed: number;
}

export class HostLimiter {
  readonly #hosts = new Map<string, HostState>();
  /** Callers waiting for a slot at a host, first come first served. */
  readonly #waiting = new Map<string, (() => void)[]>();
  #inFlight = 0;
  /** Slots only hosts holding fewer than `#lightHost` may take. */
  readonly #reserve: number;
  readonly #lightHost: number;
  readonly #penalizedMax: number;

  constructor(
    readonly maxPerHost: number,
    private readonly bounds: { minDeferMs: number; maxDeferMs: number },
    /** Slots in all (the dispatcher's concurrency); unbounded when absent. */
    readonly maxTotal = Number.POSITIVE_INFINITY,
  ) {
    this.#reserve = Number.isFinite(maxTotal) ? Math.floor(maxTotal / 4) : 0;
    this.#lightHost = Math.max(1, Math.floor(this.#reserve / 4));
    this.#penalizedMax = Math.max(1, Math.floor(maxPerHost / 8));
  }

  /** Hosts whose state is kept (for tests and metrics). */
  get trackedHosts(): number {
    return this.#hosts.size;
  }

  /** Whether `host` is on the reduced limit for timing out. */
  isPenalized(host: string): boolean {
    return (this.#hosts.get(host)?.timeouts ?? 0) >= PENALTY_AFTER_TIMEOUTS;
  }

  #mayTake(state: HostState, held: number): boolean {
    const penalized = state.timeouts >= PENALTY_AFTER_TIMEOUTS;
    if (held >= (penalized ? this.#penalizedMax : this.maxPerHost)) return false;
    if (this.#inFlight < this.maxTotal - this.#reserve) return true;
    // The reserve: for hosts that are not timing out and hold almost nothing.
    return !penalized && held < this.#lightHost;
  }

  /** Takes a slot for `host`; returns its start time, or `null` when the host is at its limit. */
  tryAcquire(host: string, now: number): number | null {
    const state = this.#hosts.get(host) ?? {
      started: new Set<number>(),
      typicalMs: null,
      timeouts: 0,
      lastUsed: now,
    };
    if (!this.#mayTake(state, state.started.size)) return null;
    // Start times double as slot ids; nudge equal ones apart so each slot stays distinct.
    let slot = now;
    while (state.started.has(slot)) slot += 0.001;
    state.started.add(slot);
    state.lastUsed = now;
    this.#inFlight += 1;
    if (!this.#hosts.has(host)) {
      this.#hosts.set(host, state);
      if (this.#hosts.size > MAX_IDLE_HOSTS) this.#forgetIdle(now);
    }
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

  /** Gives the slot back; `timedOut`: the attempt got no answer within the timeout. */
  release(host: string, slot: number, now: number, timedOut = false): void {
    const state = this.#hosts.get(host);
    if (!state?.started.delete(slot)) return;
    this.#inFlight -= 1;
    state.lastUsed = now;
    state.timeouts = timedOut ? state.timeouts + 1 : 0;
    // Hand the freed slot to the longest waiter (it takes it synchronously on wake-up).
    this.#waiting.get(host)?.shift()?.();
    const took = now - slot;
    // Exponentially weighted: recent attempts count most, one outlier does not dominate.
    state.typicalMs = state.typicalMs === null ? took : 0.7 * state.typicalMs + 0.3 * took;
    if (state.started.size === 0 && state.typicalMs <= this.bounds.minDeferMs && !timedOut)
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

  /** Drops idle hosts' state: all that is older than the TTL, then the oldest until half full. */
  #forgetIdle(now: number): void {
    const idle = [...this.#hosts].filter(([, state]) => state.started.size === 0);
    idle.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    let excess = this.#hosts.size - MAX_IDLE_HOSTS / 2;
    for (const [host, state] of idle) {
      if (excess <= 0 && now - state.lastUsed < IDLE_TTL_MS) break;
      if (this.#waiting.has(host)) continue;
      this.#hosts.delete(host);
      excess -= 1;
    }
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
