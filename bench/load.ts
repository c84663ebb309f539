import autocannon, { type Result } from 'autocannon';
import { Pool } from 'undici';
import { monoMs, sleep } from './clock.js';

export const SESSIONS_PATH = '/api/v1/charging-sessions';

/** A valid request; the same body every time is fine, as each POST without an
 * Idempotency-Key is a request of its own that the service stores and decides. */
export function requestBody(callbackUrl: string): string {
  return JSON.stringify({
    station_id: '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f',
    driver_token: 'BENCH-ALLOWED-0001-abcdefgh',
    callback_url: callbackUrl,
  });
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile `p` (0 to 1) of samples sorted ascending. */
function rank(sorted: Float64Array, p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? NaN;
}

export function percentile(samples: ArrayLike<number>, p: number): number {
  return rank(Float64Array.from(samples).sort(), p);
}

/** Percentiles of exact samples (autocannon's own histogram rounds latencies to 1 ms). */
export function summarise(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => rank(sorted, p);
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

const REQUEST_ID_FIELD = '"request_id":"';

export interface AcceptRun {
  seconds: number;
  connections: number;
  /** 2xx answers: what the service acknowledged. */
  accepted: number;
  perSec: number;
  latency: LatencySummary;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
}

/**
 * Closed-loop POSTs from `connections` keep-alive connections for `seconds` (autocannon), with
 * the request_id of every 202 it counted.
 */
export async function runAccept(
  baseUrl: string,
  body: string,
  connections: number,
  seconds: number,
): Promise<{ run: AcceptRun; ids: string[] }> {
  const latencies: number[] = [];
  const ids: string[] = [];
  // Cheaper than JSON.parse, and the same work for the baseline, whose 202 has no body.
  const collectId = (status: number, text: string) => {
    const at = text.lastIndexOf(REQUEST_ID_FIELD);
    if (status === 202 && at >= 0) {
      const start = at + REQUEST_ID_FIELD.length;
      ids.push(text.slice(start, text.indexOf('"', start)));
    }
  };
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl + SESSIONS_PATH,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections,
        duration: seconds,
        requests: [{ onResponse: collectId }],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const run = {
    seconds: result.duration,
    connections,
    accepted: result['2xx'],
    perSec: result['2xx'] / result.duration,
    latency: summarise(latencies),
    statusCounts: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
    ),
    errors: result.errors,
    timeouts: result.timeouts,
  };
  return { run, ids };
}

/** Callbacks seen by the receiver: first arrival of each webhook-id, and repeats. */
export interface CallbackLog {
  arrivals: Map<string, number>;
  duplicates: number;
  record(ids: readonly string[], times: readonly number[]): void;
  /** Resolves when the callback of `id` has arrived (at once if it has), with its time. */
  arrival(id: string): Promise<number>;
}

export function createCallbackLog(): CallbackLog {
  const waiting = new Map<string, (at: number) => void>();
  const log: CallbackLog = {
    arrivals: new Map(),
    duplicates: 0,
    record(ids, times) {
      ids.forEach((id, i) => {
        if (log.arrivals.has(id)) {
          log.duplicates += 1;
          return;
        }
        const at = times[i] ?? monoMs();
        log.arrivals.set(id, at);
        waiting.get(id)?.(at);
        waiting.delete(id);
      });
    },
    arrival(id) {
      const at = log.arrivals.get(id);
      if (at !== undefined) return Promise.resolve(at);
      return new Promise((resolve) => waiting.set(id, resolve));
    },
  };
  return log;
}

export interface DriverRun {
  /** request_id → [POST sent, callback received] (monoMs) of every completed cycle. */
  cycles: Map<string, [number, number]>;
  /** Acknowledged requests whose callback had not come when the run stopped waiting. */
  pending: string[];
  nonSuccess: number;
  errors: number;
  startedAt: number;
  endedAt: number;
}

/**
 * Closed loop end to end: `drivers` loops, each POSTing, waiting for the `202` and then for
 * its callback before the next POST, for `seconds`. A cycle still open at the end is waited
 * for up to `graceMs`, then left pending (lost, unless it arrives during the harness's drain).
 */
export async function runDrivers(
  baseUrl: string,
  body: string,
  callbacks: CallbackLog,
  options: { drivers: number; seconds: number; graceMs: number },
): Promise<DriverRun> {
  const pool = new Pool(baseUrl, { connections: options.drivers, pipelining: 1 });
  const cycles = new Map<string, [number, number]>();
  const pending: string[] = [];
  let [nonSuccess, errors] = [0, 0];
  const startedAt = monoMs();
  const endAt = startedAt + options.seconds * 1000;
  const driver = async () => {
    while (monoMs() < endAt) {
      const sentAt = monoMs();
      let id: string;
      try {
        const res = await pool.request({
          method: 'POST',
          path: SESSIONS_PATH,
          headers: { 'content-type': 'application/json' },
          body,
        });
        const text = await res.body.text();
        if (res.statusCode !== 202) {
          nonSuccess += 1;
          continue;
        }
        id = (JSON.parse(text) as { request_id: string }).request_id;
      } catch {
        errors += 1;
        continue;
      }
      let waiting: (value: null) => void = () => undefined;
      const arrivedAt = await new Promise<number | null>((resolve) => {
        waiting = resolve;
        giveUps.add(resolve);
        void callbacks.arrival(id).then(resolve);
      });
      giveUps.delete(waiting);
      if (arrivedAt === null) pending.push(id);
      else cycles.set(id, [sentAt, arrivedAt]);
    }
  };
  // One timer ends every wait still open: not one per cycle.
  const giveUps = new Set<(value: null) => void>();
  const giveUp = setTimeout(
    () => giveUps.forEach((resolve) => resolve(null)),
    options.seconds * 1000 + options.graceMs,
  );
  await Promise.all(Array.from({ length: options.drivers }, driver));
  clearTimeout(giveUp);
  const endedAt = monoMs();
  await pool.close();
  return { cycles, pending, nonSuccess, errors, startedAt, endedAt };
}

export interface Drain {
  complete: boolean;
  /** The callbacks stopped coming for the stall period before all had arrived. */
  stalled: boolean;
  seconds: number;
}

/**
 * Waits until `done()`, giving up after `timeoutMs`, or earlier when `progress()` has not
 * moved for `stallMs`.
 */
export async function drain(
  done: () => boolean,
  progress: () => number,
  timeoutMs: number,
  stallMs: number,
): Promise<Drain> {
  const started = monoMs();
  let last = progress();
  let lastMoved = started;
  for (;;) {
    const now = monoMs();
    if (done()) return { complete: true, stalled: false, seconds: (now - started) / 1000 };
    const value = progress();
    if (value !== last) [last, lastMoved] = [value, now];
    const stalled = now - lastMoved > stallMs;
    if (stalled || now - started > timeoutMs) {
      return { complete: false, stalled, seconds: (now - started) / 1000 };
    }
    await sleep(50);
  }
}

export interface OpenLoopRun {
  seconds: number;
  offeredPerSec: number;
  /** Requests due by the schedule but not sent because MAX_IN_FLIGHT were outstanding. */
  notSent: number;
  sent: number;
  /** request_id → when its POST was sent (monoMs), for every 202. */
  acknowledged: Map<string, number>;
  acceptLatency: LatencySummary;
  statusCounts: Record<string, number>;
  errors: number;
  startedAt: number;
}

/** Past this many outstanding requests the service has stalled; the generator stops adding. */
const MAX_IN_FLIGHT = 4_096;

/**
 * Open-loop load: POSTs at `rate` per second on schedule, whatever the answers' latency, and
 * records each acknowledged request's send time by the `request_id` of its 202.
 */
export async function runOpenLoop(
  baseUrl: string,
  body: string,
  options: { rate: number; seconds: number; connections: number },
): Promise<OpenLoopRun> {
  const pool = new Pool(baseUrl, { connections: options.connections, pipelining: 1 });
  const acknowledged = new Map<string, number>();
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let [sent, notSent, inFlight, errors] = [0, 0, 0, 0];

  const post = async () => {
    const at = monoMs();
    inFlight += 1;
    try {
      const res = await pool.request({
        method: 'POST',
        path: SESSIONS_PATH,
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await res.body.text();
      statusCounts[res.statusCode] = (statusCounts[res.statusCode] ?? 0) + 1;
      if (res.statusCode === 202) {
        acknowledged.set((JSON.parse(text) as { request_id: string }).request_id, at);
        latencies.push(monoMs() - at);
      }
    } catch {
      errors += 1;
    } finally {
      inFlight -= 1;
    }
  };

  const startedAt = monoMs();
  const total = Math.round(options.rate * options.seconds);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((monoMs() - startedAt) * options.rate) / 1000));
      while (sent + notSent < due) {
        if (inFlight >= MAX_IN_FLIGHT) notSent += 1;
        else {
          sent += 1;
          void post();
        }
      }
      if (sent + notSent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  while (inFlight > 0) await sleep(5);
  await pool.close();
  return {
    seconds: options.seconds,
    offeredPerSec: options.rate,
    notSent,
    sent,
    acknowledged,
    acceptLatency: summarise(latencies),
    statusCounts,
    errors,
    startedAt,
  };
}

/** Answers that were not 2xx, from a status → count table. */
export function nonSuccessOf(statusCounts: Record<string, number>): number {
  return Object.entries(statusCounts)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
}
