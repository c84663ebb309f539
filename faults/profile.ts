/**
 * How much load and how many faults a run uses. `ci` is the short profile `.ci/run` runs (both
 * modes in about three minutes on a two-core machine); `full` is the default of
 * `npm run test:faults` and the one whose figures `docs/reliability.md` reports.
 */
export interface Profile {
  name: 'ci' | 'full';
  /** POSTs the load generator sends per mode (retries of refused connections not counted). */
  requests: number;
  /** The load's rate at least: the schedule grew with the faults, the load must not thin. */
  minRatePerSecond: number;
  /** At most this many POSTs in flight at once. */
  concurrency: number;
  /** Rounds of each fault type per mode: the schedule holds `rounds` × the mode's types. */
  rounds: number;
  /** How long a fault is held (outage, hang, process down), drawn per injection. */
  holdMs: [min: number, max: number];
  /** How long a pause (SIGSTOP) is held: longer than the leases (7 s with the suite's
   * timeouts), so that another worker takes over what the paused one held. */
  pauseMs: [min: number, max: number];
  /** Quiet time before each fault, drawn per injection: the "random moment". */
  gapMs: [min: number, max: number];
  /** How long draining may take before what is missing counts as lost. */
  drainTimeoutMs: number;
}

const PROFILES: Record<Profile['name'], Profile> = {
  ci: {
    name: 'ci',
    requests: 900,
    minRatePerSecond: 15,
    concurrency: 32,
    rounds: 1,
    holdMs: [1_500, 3_000],
    pauseMs: [8_000, 9_000],
    gapMs: [1_000, 2_500],
    drainTimeoutMs: 60_000,
  },
  full: {
    name: 'full',
    requests: 6_000,
    minRatePerSecond: 25,
    concurrency: 32,
    rounds: 3,
    holdMs: [2_000, 6_000],
    pauseMs: [8_000, 12_000],
    gapMs: [1_500, 4_000],
    drainTimeoutMs: 120_000,
  },
};

/** `FAULTS_PROFILE` (`ci` or `full`, default `full`). */
export function profileFromEnv(env: NodeJS.ProcessEnv = process.env): Profile {
  const name = env['FAULTS_PROFILE'] ?? 'full';
  if (name !== 'ci' && name !== 'full') {
    throw new Error(`FAULTS_PROFILE must be ci or full, not ${JSON.stringify(name)}`);
  }
  return PROFILES[name];
}

/** `FAULTS_SEED` replays a run's fault schedule and moments; otherwise one is drawn. */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const given = env['FAULTS_SEED'];
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0) throw new Error('FAULTS_SEED must be an integer');
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: small, seedable, good enough to pick fault moments reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function between(random: () => number, [min, max]: [number, number]): number {
  return Math.round(min + random() * (max - min));
}

/** `FAULTS_ONLY`: a comma-separated list of fault types to run instead of the mode's schedule
 * (types that do not apply to the mode are left out), to chase one fault. */
export function onlyFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const given = env['FAULTS_ONLY'];
  if (given === undefined || given.trim() === '') return undefined;
  return given.split(',').map((t) => t.trim());
}
