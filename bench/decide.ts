import { monoMs } from './clock.js';
import type { Deployment } from './deployments.js';
import {
  nonSuccessOf,
  runDrivers,
  runOpenLoop,
  summarise,
  type Drain,
  type LatencySummary,
} from './load.js';
import { startCpuWindow, type CpuReport } from './procstat.js';
import { awaitCallbacks, LOAD_GENERATOR, type Rig } from './scenarios.js';

/**
 * The deciding scenarios, run the same way against the in-memory pipeline (`pipeline.ts`) and
 * against each mode of the service, so that their figures compare within one run:
 *
 * - **throughput**: a closed loop end to end: a few drivers (16), each POSTing and waiting for
 *   its callback before the next POST, for a window; decisions per second are the callbacks
 *   that arrived during it, the first second (ramp-up) left out. Accepting cannot outrun
 *   deciding, so the figure is what the deployment decides, not how its threads share a core.
 * - **steady**: open-loop POSTs at a fixed rate the deployment keeps up with (500/s, 2,000/s),
 *   every acknowledged request matched to its callback: time to decision, and the CPU each
 *   decision cost when accepting and deciding run at the same rate.
 */
export interface ThroughputResult {
  seconds: number;
  connections: number;
  accepted: number;
  acceptedPerSec: number;
  nonSuccess: number;
  /** Callbacks per second during the window, its first second left out. */
  decisionsPerSec: number;
  /** POST sent → its callback received, each driver waiting for it before its next POST. */
  latency: LatencySummary;
  lost: number;
  duplicates: number;
  drain: Drain;
  cpu: CpuReport;
  /** The deployment's CPU (every thread and process, Redis and PostgreSQL included) per
   * decision of the window. */
  cpuUsPerDecision: number;
}

export interface SteadyResult {
  rate: number;
  seconds: number;
  sent: number;
  accepted: number;
  notSent: number;
  nonSuccess: number;
  errors: number;
  /** POST sent → callback received. */
  latency: LatencySummary;
  /** POST sent → `202` received. */
  acceptLatency: LatencySummary;
  decisionsPerSec: number;
  lost: number;
  duplicates: number;
  drain: Drain;
  cpu: CpuReport;
  cpuUsPerDecision: number;
}

export interface DecideResults {
  throughput: ThroughputResult;
  steady: SteadyResult[];
}

function cpuWindow(rig: Rig, deployment: Deployment) {
  const own = deployment.processes.map((p) => ({ name: p.name, pid: p.pid }));
  const window = startCpuWindow(
    [
      ...own,
      { name: 'auth stub', pid: rig.auth.pid },
      { name: 'callback receiver', pid: rig.receiver.pid },
      LOAD_GENERATOR,
    ],
    deployment.groups,
  );
  return {
    /** The report, and the deployment's CPU in % of one core (its processes and groups). */
    stop() {
      const cpu = window.stop();
      const pids = new Set(own.map((p) => p.pid));
      const percent =
        cpu.processes.filter((p) => pids.has(p.pid)).reduce((a, p) => a + p.cpuPercent, 0) +
        cpu.groups.reduce((a, g) => a + g.cpuPercent, 0);
      return { cpu, percent };
    },
  };
}

/** µs of CPU per decision from % of one core and decisions a second. */
const usPerDecision = (percent: number, perSec: number) => (percent * 10_000) / perSec;

async function throughput(rig: Rig, deployment: Deployment): Promise<ThroughputResult> {
  const { settings, callbacks } = rig;
  const seconds = settings.throughputSeconds;
  const connections = settings.throughputConnections;
  const duplicatesBefore = callbacks.duplicates;
  const window = cpuWindow(rig, deployment);
  const run = await runDrivers(deployment.url, rig.body, callbacks, {
    drivers: connections,
    seconds,
    graceMs: settings.drainStallSeconds * 1000,
  });
  const { cpu, percent } = window.stop();
  const drained = await awaitCallbacks(rig, run.pending);
  const windowEnd = run.startedAt + seconds * 1000;
  let inWindow = 0;
  for (const [, [, at]] of run.cycles)
    if (at >= run.startedAt + 1000 && at <= windowEnd) inWindow += 1;
  const decisionsPerSec = inWindow / (seconds - 1);
  const decided = run.cycles.size + run.pending.filter((id) => callbacks.arrivals.has(id)).length;
  const accepted = run.cycles.size + run.pending.length;
  return {
    seconds,
    connections,
    accepted,
    acceptedPerSec: accepted / ((run.endedAt - run.startedAt) / 1000),
    nonSuccess: run.nonSuccess + run.errors,
    decisionsPerSec,
    latency: summarise([...run.cycles.values()].map(([sent, at]) => at - sent)),
    lost: accepted - decided,
    duplicates: callbacks.duplicates - duplicatesBefore,
    drain: drained,
    cpu,
    // The window's CPU over the cycles it completed: accepting and deciding at one rate.
    cpuUsPerDecision: usPerDecision(percent, run.cycles.size / cpu.seconds),
  };
}

async function steady(rig: Rig, deployment: Deployment, rate: number): Promise<SteadyResult> {
  const { settings, callbacks } = rig;
  const seconds = settings.steadySeconds;
  const duplicatesBefore = callbacks.duplicates;
  const window = cpuWindow(rig, deployment);
  const run = await runOpenLoop(deployment.url, rig.body, {
    rate,
    seconds,
    connections: settings.e2eConnections,
  });
  const endedAt = monoMs();
  const { cpu, percent } = window.stop();
  const drained = await awaitCallbacks(rig, run.acknowledged.keys());
  const latencies: number[] = [];
  let inWindow = 0;
  for (const [id, sentAt] of run.acknowledged) {
    const at = callbacks.arrivals.get(id);
    if (at === undefined) continue;
    latencies.push(at - sentAt);
    if (at <= endedAt) inWindow += 1;
  }
  const decisionsPerSec = inWindow / ((endedAt - run.startedAt) / 1000);
  return {
    rate,
    seconds,
    sent: run.sent,
    accepted: run.acknowledged.size,
    notSent: run.notSent,
    nonSuccess: nonSuccessOf(run.statusCounts),
    errors: run.errors,
    latency: summarise(latencies),
    acceptLatency: run.acceptLatency,
    decisionsPerSec,
    lost: run.acknowledged.size - latencies.length,
    duplicates: callbacks.duplicates - duplicatesBefore,
    drain: drained,
    cpu,
    cpuUsPerDecision: usPerDecision(percent, decisionsPerSec),
  };
}

/**
 * Warms `deployment` up, then runs the throughput window and each steady rate on it, each
 * after the callbacks of the one before have all arrived; stops it.
 */
export async function benchDecide(rig: Rig, deployment: Deployment): Promise<DecideResults> {
  const { settings } = rig;
  try {
    const warm = await runDrivers(deployment.url, rig.body, rig.callbacks, {
      drivers: settings.throughputConnections,
      seconds: settings.warmupSeconds,
      graceMs: settings.drainStallSeconds * 1000,
    });
    if (warm.pending.length > 0) throw new Error('warm-up callbacks missing');
    const result: DecideResults = {
      throughput: await throughput(rig, deployment),
      steady: [],
    };
    for (const rate of settings.steadyRates)
      result.steady.push(await steady(rig, deployment, rate));
    return result;
  } finally {
    await deployment.stop();
  }
}

/** Requests acknowledged without a callback, over every deciding scenario. */
export function lostInDecide(results: DecideResults): number {
  return results.throughput.lost + results.steady.reduce((a, s) => a + s.lost, 0);
}
