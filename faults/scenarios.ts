import type { Cluster } from './cluster.js';
import { diskFull, networkFault, parseNetworkFault, pause, postgresOutage } from './injections.js';
import { RECOVERY_MS } from './fault-checks.js';
import type { Load } from './load.js';
import type { PlannedFault } from './plan.js';
import type { ManagedProcess } from './processes.js';

/** Injecting the faults that `plan.ts` schedules, one after another (see there for each). */

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
    // Its recovery (within RECOVERY_MS of the return) is judged on the load before the next
    // fault: leave it that long undisturbed.
    if (record.outage !== undefined) await sleep(RECOVERY_MS);
  }
  return records;
}
