/**
 * The harness's own settings, read once from the environment. The service's settings are its
 * defaults except where `run.ts` says otherwise; everything here ends up in the results file.
 */
export interface Settings {
  quick: boolean;
  /** Connections of every accept run (the targets are stated at 50). */
  connections: number;
  acceptSeconds: number;
  warmupSeconds: number;
  e2eSeconds: number;
  /** Requests per second the end-to-end run offers, open loop. */
  e2eRate: number;
  /** Connections the end-to-end load generator may open. */
  e2eConnections: number;
  /** The closed-loop deciding window (the pipeline and each mode): its length, connections. */
  throughputSeconds: number;
  throughputConnections: number;
  /** The open-loop time-to-decision windows: their length, and the rates offered. */
  steadySeconds: number;
  steadyRates: number[];
  /** BENCH_DECIDE_ONLY=1: the deciding scenarios only (pipeline and modes), for quick A/B. */
  decideOnly: boolean;
  /**
   * The longest wait for the callbacks still owed once the load stops. A service slower than
   * the load leaves a backlog that takes minutes to clear; the wait goes on while callbacks
   * keep coming, up to this.
   */
  drainTimeoutSeconds: number;
  /** A drain that sees no callback for this long has stalled: what is missing is lost. */
  drainStallSeconds: number;
  /** The service's LOG_LEVEL: `info`, its default, writes a line per request and decision. */
  logLevel: string;
  /** Extra environment for the service under test (BENCH_SERVICE_ENV). */
  serviceEnv: Record<string, string>;
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  /** BENCH_PROFILE_DIR: each service process writes a V8 CPU profile there when it stops. */
  profileDir: string | undefined;
}

/** The stated target is 3,000 decisions/s; offering 10 % more shows whether it is met with
 * room to spare, and a service that cannot keep up shows its capacity instead. */
const E2E_TARGET_PER_SEC = 3_000;
const E2E_OFFER_HEADROOM = 1.1;

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/**
 * BENCH_SERVICE_ENV="WORKER_THREAD=false SQLITE_SYNCHRONOUS=full": extra settings for the
 * service under test, to measure a trade-off in the same harness.
 */
function serviceEnvFrom(text: string | undefined): Record<string, string> {
  const pairs = (text ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`BENCH_SERVICE_ENV: expected NAME=value, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

function ratesFrom(text: string | undefined, fallback: number[]): number[] {
  if (text === undefined || text === '') return fallback;
  const rates = text.split(',').map(Number);
  if (!rates.every((r) => Number.isFinite(r) && r > 0)) {
    throw new Error('BENCH_STEADY_RATES must be positive numbers separated by commas');
  }
  return rates;
}

export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  const quick = env['BENCH_QUICK'] === '1' || env['BENCH_QUICK'] === 'true';
  const redisUrl = env['REDIS_URL'] || undefined;
  const databaseUrl = env['DATABASE_URL'] || undefined;
  return {
    quick,
    connections: numberFrom(env, 'BENCH_CONNECTIONS', 50),
    acceptSeconds: numberFrom(env, 'BENCH_ACCEPT_SECONDS', quick ? 3 : 10),
    warmupSeconds: numberFrom(env, 'BENCH_WARMUP_SECONDS', quick ? 1 : 2),
    e2eSeconds: numberFrom(env, 'BENCH_E2E_SECONDS', quick ? 5 : 60),
    e2eRate: numberFrom(env, 'BENCH_E2E_RATE', Math.round(E2E_TARGET_PER_SEC * E2E_OFFER_HEADROOM)),
    e2eConnections: numberFrom(env, 'BENCH_E2E_CONNECTIONS', 50),
    throughputSeconds: numberFrom(env, 'BENCH_THROUGHPUT_SECONDS', quick ? 5 : 20),
    throughputConnections: numberFrom(env, 'BENCH_THROUGHPUT_CONNECTIONS', 16),
    steadySeconds: numberFrom(env, 'BENCH_STEADY_SECONDS', quick ? 5 : 20),
    steadyRates: ratesFrom(env['BENCH_STEADY_RATES'], [500, 2_000]),
    decideOnly: env['BENCH_DECIDE_ONLY'] === '1' || env['BENCH_DECIDE_ONLY'] === 'true',
    drainTimeoutSeconds: numberFrom(env, 'BENCH_DRAIN_TIMEOUT_SECONDS', quick ? 120 : 600),
    drainStallSeconds: numberFrom(env, 'BENCH_DRAIN_STALL_SECONDS', 30),
    logLevel: env['BENCH_LOG_LEVEL'] || 'info',
    serviceEnv: serviceEnvFrom(env['BENCH_SERVICE_ENV']),
    redisUrl,
    databaseUrl,
    profileDir: env['BENCH_PROFILE_DIR'] || undefined,
  };
}

export const TARGETS = {
  /** `chargegate api` alone against the bare route. */
  acceptRatio: 0.6,
  /** `start` (and `api` beside its worker) while it decides. */
  acceptP99Ms: 10,
  acceptConnections: 50,
  hangP99Ratio: 1.5,
  /** Decisions per second against the in-memory pipeline's, closed loop. */
  decideRatio: { embedded: 0.8, distributed: 0.6 },
  /** POST → callback at the steady rate the targets are stated at. */
  steadyRate: 500,
  steadyP50Ms: 5,
  steadyP99Ms: 50,
};
