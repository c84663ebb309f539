import { gcra } from './gcra.js';
import { LruMap } from './lru.js';

/** Clients (addresses) whose state is kept at once; the least recently seen go first. */
const DEFAULT_TRACKED_CLIENTS = 100_000;

/**
 * A request rate per client: GCRA, one arrival time per client, with a burst of a second's
 * worth of requests. `take` answers how long the client must wait (0: go ahead).
 */
export class ClientRateLimit {
  readonly #arrivals: LruMap<string, number>;
  readonly #intervalMs: number;
  readonly #burst: number;

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    tracked = DEFAULT_TRACKED_CLIENTS,
  ) {
    this.#intervalMs = 1_000 / perSecond;
    this.#burst = Math.max(1, Math.ceil(perSecond));
    this.#arrivals = new LruMap(tracked);
  }

  /**
   * Counts a request of `client`; the ms it must wait before the next one is admitted.
   * `perSecond`: this client's own rate, when it has one.
   */
  take(client: string, perSecond = this.perSecond): number {
    const intervalMs = perSecond === this.perSecond ? this.#intervalMs : 1_000 / perSecond;
    const burst = perSecond === this.perSecond ? this.#burst : Math.max(1, Math.ceil(perSecond));
    const step = gcra(this.#arrivals.get(client) ?? 0, this.now(), intervalMs, burst);
    if (step.waitMs === 0) this.#arrivals.set(client, step.next);
    return step.waitMs;
  }
}

/**
 * Failed attempts per client in a fixed window: once a client has failed `maxFailures` times
 * within `windowMs`, it is refused until that window ends. Slows a guessing attack on a
 * bearer token to `maxFailures` guesses per window and address.
 */
export class FailureLimit {
  readonly #failures: LruMap<string, { count: number; since: number }>;

  constructor(
    readonly maxFailures: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
    tracked = DEFAULT_TRACKED_CLIENTS,
  ) {
    this.#failures = new LruMap(tracked);
  }

  /** Ms until `client` may try again; 0 when it may try now. */
  blockedFor(client: string): number {
    const entry = this.#failures.peek(client);
    if (entry === undefined || entry.count < this.maxFailures) return 0;
    const left = entry.since + this.windowMs - this.now();
    if (left > 0) return left;
    this.#failures.delete(client);
    return 0;
  }

  fail(client: string): void {
    const now = this.now();
    const entry = this.#failures.get(client);
    if (entry === undefined || now - entry.since >= this.windowMs) {
      this.#failures.set(client, { count: 1, since: now });
    } else {
      entry.count += 1;
    }
  }
}

/** Failed admin authentications an address may make per window: a person mistyping a token
 * never comes close; a guessing script is held to a few guesses a minute. */
export const ADMIN_MAX_FAILURES = 10;
export const ADMIN_FAILURE_WINDOW_MS = 60_000;

export function adminFailureLimit(): FailureLimit {
  return new FailureLimit(ADMIN_MAX_FAILURES, ADMIN_FAILURE_WINDOW_MS);
}

/** Whole seconds for a `Retry-After` header: never 0, so a client does not retry at once. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1_000));
}
