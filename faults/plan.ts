import type { Mode } from './cluster.js';
import { networkFaults, type NetworkFault, type PauseFault } from './injections.js';
import { RECOVERY_MS } from './fault-checks.js';
import { between, type Profile } from './profile.js';

/**
 * The faults, and how each is injected:
 *
 * - `kill-api`: SIGKILL of a process serving the API (in embedded mode the all-in-one `start`,
 *   which also runs a worker); restarted on the same port after the hold.
 * - `kill-worker`: SIGKILL of a worker process; restarted after the hold.
 * - `redis-restart` (distributed): SIGKILL of the private redis-server, restarted after the
 *   hold from its append-only file.
 * - `auth-refused`: the authorization service's listening socket is closed and its connections
 *   cut (connection refused), reopened on the same port after the hold.
 * - `auth-hang`: the authorization service accepts calls and never answers, for the hold.
 * - `receiver-down`: the callback receiver's listening socket is closed (connection refused),
 *   reopened on the same port after the hold.
 * - `sigterm-api` / `sigterm-worker`: SIGTERM under load. The authorization service turns slow
 *   (300–800 ms) a second before, so that the worker holds calls in flight. For the API, a
 *   burst of POSTs from slow clients (the body's second half 300 ms after the first) is in
 *   flight when the signal comes, another burst follows just after it (new requests while
 *   stopping), and the process
 *   leaves the load's rotation, as a load balancer takes a stopping instance out: its clients'
 *   idle keep-alive connections then stay idle. The process must exit 0 within the shutdown
 *   timeout plus a margin, having finished that work; it is restarted after the hold.
 * - `postgres-restart` / `postgres-stop` (distributed): the private PostgreSQL is stopped (fast
 *   shutdown) and started again after the hold (`postgres-stop`: 30 s). Its proxy refuses
 *   meanwhile.
 * - `pause-redis`, `pause-postgres` (distributed), `pause-api`, `pause-worker`: SIGSTOP, and
 *   SIGCONT after a hold longer than the leases (see `Profile.pauseMs`).
 * - `latency-*`, `reset-*`, `blackhole-*` for `redis`, `postgres` (distributed), `auth` and
 *   `receiver`: the proxy in front of that collaborator adds 200 ms each way, resets every
 *   connection mid-exchange, or black-holes them (see `proxy.ts`), for the hold.
 * - `disk-full` (embedded, only in the run whose `DATA_DIR` is a small tmpfs): the file system
 *   is filled to the last byte for the hold, then freed.
 */
export type FaultType =
  | 'kill-api'
  | 'kill-worker'
  | 'redis-restart'
  | 'auth-refused'
  | 'auth-hang'
  | 'receiver-down'
  | 'sigterm-api'
  | 'sigterm-worker'
  | 'postgres-restart'
  | 'postgres-stop'
  | 'disk-full'
  | PauseFault
  | NetworkFault;

export const FAULTS: Record<Mode, FaultType[]> = {
  embedded: [
    'kill-api',
    'kill-worker',
    'auth-refused',
    'auth-hang',
    'receiver-down',
    'sigterm-api',
    'sigterm-worker',
    'pause-api',
    'pause-worker',
    ...networkFaults(['auth', 'receiver']),
  ],
  distributed: [
    'kill-api',
    'kill-worker',
    'redis-restart',
    'auth-refused',
    'auth-hang',
    'receiver-down',
    'sigterm-api',
    'sigterm-worker',
    'postgres-restart',
    'postgres-stop',
    'pause-redis',
    'pause-postgres',
    'pause-api',
    'pause-worker',
    ...networkFaults(['redis', 'postgres', 'auth', 'receiver']),
  ],
};

/** The issue-sized database outage: long enough for every pool, lease and retry to notice. */
export const POSTGRES_STOP_MS = 30_000;

/** The shortest black hole in front of a store: longer than the API's 2 s to answer. */
const MIN_STALL_MS = 5_000;

/** Faults followed by a quiet RECOVERY_MS in which their recovery is judged. */
const OUTAGES = new Set<FaultType>(['postgres-restart', 'postgres-stop', 'disk-full']);

/** Faults that restart a process or a server, whose start-up adds to the hold. */
const RESTARTING = new Set<FaultType>([
  'kill-api',
  'kill-worker',
  'sigterm-api',
  'sigterm-worker',
  'redis-restart',
  'postgres-restart',
  'postgres-stop',
]);

/** What a process restart adds to a fault's hold, for planning the load's rate: a Chargegate
 * process needs a few seconds on a two-core machine to load its modules and start. */
const RESTART_ESTIMATE_MS = 4_000;

export interface PlannedFault {
  type: FaultType;
  gapMs: number;
  holdMs: number;
}

/** `rounds` of every fault type of the mode, shuffled, each with a drawn gap and hold. */
export function planFaults(
  faults: Mode | FaultType[],
  profile: Profile,
  random: () => number,
): PlannedFault[] {
  const kinds = typeof faults === 'string' ? FAULTS[faults] : faults;
  const types = Array.from({ length: profile.rounds }, () => kinds).flat();
  for (let i = types.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [types[i], types[j]] = [types[j]!, types[i]!];
  }
  return types.map((type) => {
    const gapMs = between(random, profile.gapMs);
    const holdMs = between(random, type.startsWith('pause-') ? profile.pauseMs : profile.holdMs);
    if (type === 'postgres-stop') return { type, gapMs, holdMs: POSTGRES_STOP_MS };
    // A black-holed store is held long enough to see whether the API answers meanwhile.
    if (type === 'blackhole-redis' || type === 'blackhole-postgres') {
      return { type, gapMs, holdMs: Math.max(holdMs, MIN_STALL_MS) };
    }
    return { type, gapMs, holdMs };
  });
}

/** How long the schedule should take; the load is paced to span it. */
export function plannedDurationMs(plan: PlannedFault[]): number {
  return plan.reduce(
    (sum, f) =>
      sum +
      f.gapMs +
      f.holdMs +
      (RESTARTING.has(f.type) ? RESTART_ESTIMATE_MS : 0) +
      (OUTAGES.has(f.type) ? RECOVERY_MS : 0),
    0,
  );
}
