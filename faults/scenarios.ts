import type { Cluster, Mode } from './cluster.js';
import {
  diskFull,
  networkFault,
  networkFaults,
  parseNetworkFault,
  pause,
  postgresOutage,
  type NetworkFault,
  type PauseFault,
} from './injections.js';
import type { Load } from './load.js';
import type { ManagedProcess } from './processes.js';
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

/** SIGTERM must end the process within the shutdown timeout (10 s in the suite) plus this. */
const SIGTERM_DEADLINE_MS = 15_000;
/** Slow authorization this long before a SIGTERM fills the worker with calls in flight. */
const SLOW_LEAD_MS = 1_000;
/** POSTs in flight to an API process when it gets SIGTERM: slow clients, whose bodies arrive
 * in two halves this far apart, so that their answers come after the server began closing. */
const SIGTERM_BURST = 24;
const SLOW_BODY_MS = 300;
/** POSTs sent to an API process just after its SIGTERM. */
const LATE_BURST = 8;
/** Time for the burst's first halves to reach the server before the signal. */
const BURST_LEAD_MS = 100;
/** What a process restart adds to a fault's hold, for planning the load's rate: a Chargegate
 * process needs a few seconds on a two-core machine to load its modules and start. */
const RESTART_ESTIMATE_MS = 4_000;

export interface PlannedFault {
  type: FaultType;
  gapMs: number;
  holdMs: number;
}

export interface FaultRecord extends PlannedFault {
  target: string;
  startedAt: number;
  healedAt: number;
  /** For SIGTERM: when the signal was sent, and how the process ended. */
  signalAt?: number;
  exit?: { code: number | null; signal: string | null; afterMs: number };
  /** For `postgres-*`: when the server was down (its proxy refusing) and when back. */
  outage?: { downAt: number; upAt: number };
  problem?: string;
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
    (sum, f) => sum + f.gapMs + f.holdMs + (RESTARTING.has(f.type) ? RESTART_ESTIMATE_MS : 0),
    0,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function pick<T>(list: T[], random: () => number): T {
  const item = list[Math.floor(random() * list.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

/** Every worker process that is not also the API (in embedded mode: the extra worker). */
function pureWorkers(cluster: Cluster): ManagedProcess[] {
  return cluster.workers.filter((w) => !cluster.apis.includes(w));
}

async function killAndRestart(target: ManagedProcess, holdMs: number): Promise<void> {
  await target.signal('SIGKILL');
  await sleep(holdMs);
  await target.start();
}

async function sigtermAndRestart(
  cluster: Cluster,
  load: Pick<Load, 'burst'>,
  target: ManagedProcess,
  holdMs: number,
  record: FaultRecord,
): Promise<void> {
  cluster.setAuthMode('slow');
  await sleep(SLOW_LEAD_MS);
  const burst =
    target.port === undefined
      ? Promise.resolve()
      : load.burst(target.url, SIGTERM_BURST, SLOW_BODY_MS);
  await sleep(BURST_LEAD_MS);
  const sentAt = Date.now();
  record.signalAt = sentAt;
  const exited = target.signal('SIGTERM');
  target.inRotation = false;
  const late = target.port === undefined ? Promise.resolve() : load.burst(target.url, LATE_BURST);
  const exit = await Promise.race([exited, sleep(SIGTERM_DEADLINE_MS).then(() => undefined)]);
  if (exit === undefined) {
    record.problem = `still running ${SIGTERM_DEADLINE_MS} ms after SIGTERM`;
    await target.signal('SIGKILL');
  } else {
    record.exit = { code: exit.code, signal: exit.signal, afterMs: exit.at - sentAt };
    if (exit.code !== 0) record.problem = `exit code ${exit.code} signal ${exit.signal}`;
  }
  cluster.setAuthMode('answer');
  await sleep(Math.max(0, holdMs - (Date.now() - sentAt)));
  await target.start();
  target.inRotation = true;
  await Promise.all([burst, late]);
}

/** Injects one fault, holds it, heals it. */
async function inject(
  cluster: Cluster,
  load: Pick<Load, 'burst'>,
  fault: PlannedFault,
  random: () => number,
): Promise<FaultRecord> {
  const record: FaultRecord = { ...fault, target: '', startedAt: Date.now(), healedAt: 0 };
  switch (fault.type) {
    case 'kill-api': {
      const target = pick(cluster.apis, random);
      record.target = target.name;
      await killAndRestart(target, fault.holdMs);
      break;
    }
    case 'kill-worker': {
      const target = pick(pureWorkers(cluster), random);
      record.target = target.name;
      await killAndRestart(target, fault.holdMs);
      break;
    }
    case 'sigterm-api': {
      const target = pick(cluster.apis, random);
      record.target = target.name;
      await sigtermAndRestart(cluster, load, target, fault.holdMs, record);
      break;
    }
    case 'sigterm-worker': {
      const target = pick(pureWorkers(cluster), random);
      record.target = target.name;
      await sigtermAndRestart(cluster, load, target, fault.holdMs, record);
      break;
    }
    case 'redis-restart': {
      const redis = cluster.redis;
      if (redis === undefined) throw new Error('redis-restart needs distributed mode');
      record.target = 'redis';
      await redis.kill();
      await sleep(fault.holdMs);
      await redis.start();
      break;
    }
    case 'auth-refused':
      record.target = 'authorization service';
      await cluster.auth.close();
      await sleep(fault.holdMs);
      await cluster.auth.listen();
      break;
    case 'auth-hang':
      record.target = 'authorization service';
      cluster.setAuthMode('hang');
      await sleep(fault.holdMs);
      cluster.setAuthMode('answer');
      break;
    case 'receiver-down':
      record.target = 'callback receiver';
      await cluster.receiver.close();
      await sleep(fault.holdMs);
      await cluster.receiver.listen();
      break;
    case 'postgres-restart':
    case 'postgres-stop':
      record.target = 'postgres';
      record.outage = await postgresOutage(cluster, fault.holdMs);
      break;
    case 'disk-full': {
      record.target = 'DATA_DIR';
      const { outage, problems } = await diskFull(cluster, load, fault.holdMs);
      record.outage = outage;
      if (problems.length > 0) record.problem = problems.join('; ');
      break;
    }
    case 'pause-redis':
    case 'pause-postgres':
    case 'pause-api':
    case 'pause-worker': {
      const target = fault.type.slice('pause-'.length) as 'redis' | 'postgres' | 'api' | 'worker';
      record.target = await pause(cluster, target, fault.holdMs, (list) => pick(list, random));
      break;
    }
    default: {
      const network = parseNetworkFault(fault.type);
      if (network === null) throw new Error(`unknown fault ${fault.type}`);
      record.target = await networkFault(cluster, network.target, network.kind, fault.holdMs);
    }
  }
  record.healedAt = Date.now();
  return record;
}

/** Runs the plan: before each fault its gap (the random moment), then the fault. */
export async function runFaults(
  cluster: Cluster,
  load: Pick<Load, 'burst'>,
  plan: PlannedFault[],
  random: () => number,
  log: (line: string) => void,
): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  for (const fault of plan) {
    await sleep(fault.gapMs);
    const record = await inject(cluster, load, fault, random);
    log(
      `${cluster.mode}: ${record.type} ${record.target} held ${record.holdMs} ms` +
        (record.exit ? `, exit ${record.exit.code} after ${record.exit.afterMs} ms` : '') +
        (record.problem ? ` — PROBLEM: ${record.problem}` : ''),
    );
    records.push(record);
  }
  return records;
}
