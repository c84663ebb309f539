import type { ForkedServer, LogSummary } from './children.js';
import { monoMs } from './clock.js';
import { startDeployment, type Deployment, type Mode } from './deployments.js';
import {
  drain,
  runAccept,
  percentile,
  runOpenLoop,
  summarise,
  type AcceptRun,
  type OpenLoopRun,
  type CallbackLog,
  type Drain,
  type LatencySummary,
} from './load.js';
import { startCpuWindow, type CpuReport, type Watched } from './procstat.js';
import type { Settings } from './settings.js';

/** What every scenario shares: the stubs, the callbacks they saw, the request body. */
export interface Rig {
  settings: Settings;
  auth: ForkedServer;
  receiver: ForkedServer;
  callbacks: CallbackLog;
  body: string;
}

export const LOAD_GENERATOR: Watched = { name: 'load generator (bench)', pid: process.pid };

const SERVICE_PROCESS_PREFIX = 'chargegate ';

/** Whether a watched process is one of the service's (not a stub or the load generator). */
export function isServiceProcess(name: string): boolean {
  return name.startsWith(SERVICE_PROCESS_PREFIX);
}

function serviceProcesses(deployment: Deployment): Watched[] {
  return deployment.processes.map((p) => ({
    name: `${SERVICE_PROCESS_PREFIX}${p.name}`,
    pid: p.pid,
  }));
}

function watched(rig: Rig, deployment: Deployment): Watched[] {
  return [
    ...serviceProcesses(deployment),
    { name: 'auth stub', pid: rig.auth.pid },
    { name: 'callback receiver', pid: rig.receiver.pid },
    LOAD_GENERATOR,
  ];
}

/** Requests the auth stub has received so far. */
async function authCalls(rig: Rig): Promise<number> {
  const stats = await rig.auth.command({ type: 'stats' });
  return stats.type === 'stats' ? stats.requests : NaN;
}

/** Waits until every one of `ids` has had its callback (or the drain times out or stalls). */
/** Waits until every id in `ids` has had its callback (or the drain gives up). */
export function awaitCallbacks(rig: Rig, ids: Iterable<string>): Promise<Drain> {
  const { callbacks, settings } = rig;
  const pending = new Set(ids);
  return drain(
    () => {
      for (const id of pending) if (callbacks.arrivals.has(id)) pending.delete(id);
      return pending.size === 0;
    },
    () => callbacks.arrivals.size,
    settings.drainTimeoutSeconds * 1000,
    settings.drainStallSeconds * 1000,
  );
}

export interface BaselineResult {
  run: AcceptRun;
  cpu: CpuReport;
}

/** Closed-loop accept load against one of the reference servers (`baseline.ts`). */
export async function benchBaseline(
  rig: Rig,
  baseline: ForkedServer,
  label: string,
): Promise<BaselineResult> {
  const { connections, warmupSeconds, acceptSeconds } = rig.settings;
  await runAccept(baseline.url, rig.body, connections, warmupSeconds);
  const cpu = startCpuWindow([{ name: label, pid: baseline.pid }, LOAD_GENERATOR]);
  const { run } = await runAccept(baseline.url, rig.body, connections, acceptSeconds);
  return { run, cpu: cpu.stop() };
}

interface Common {
  cpu: CpuReport;
  peakMemoryMiB: Record<string, number>;
  logs: Record<string, LogSummary>;
  authCalls: number;
  drain: Drain;
  duplicates: number;
}

export interface AcceptResult extends Common {
  run: AcceptRun;
  /** 202s counted by the load generator without a callback after the drain. */
  lost: number;
  /** Undecided requests when the load stopped, and how fast the worker then cleared them. */
  backlogAtLoadEnd: number;
  drainPerSec: number;
}

/** Where the service (and the pipeline) ask the auth stub. */
export const authorizeUrl = (rig: Rig) => `${rig.auth.url}/api/v1/authorize`;

/** A fresh deployment, warmed up with the same load, whose warm-up callbacks all arrived. */
async function warmDeployment(rig: Rig, mode: Mode): Promise<Deployment> {
  const { settings } = rig;
  const deployment = await startDeployment(mode, settings, authorizeUrl(rig));
  const warm = await runAccept(
    deployment.url,
    rig.body,
    settings.connections,
    settings.warmupSeconds,
  );
  const drained = await awaitCallbacks(rig, warm.ids);
  if (!drained.complete) {
    await deployment.stop();
    throw new Error(`warm-up callbacks did not all arrive (${mode})`);
  }
  return deployment;
}

/** A measured closed-loop accept window, and the counters as they were before it. */
interface AcceptWindow {
  run: AcceptRun;
  ids: string[];
  cpu: CpuReport;
  loadEnd: number;
  countsBefore: { duplicates: number; authCalls: number };
}

async function acceptWindow(rig: Rig, deployment: Deployment): Promise<AcceptWindow> {
  const { settings, callbacks } = rig;
  const countsBefore = { duplicates: callbacks.duplicates, authCalls: await authCalls(rig) };
  const cpu = startCpuWindow(
    watched(rig, deployment),
    deployment.groups,
    serviceProcesses(deployment),
  );
  const { run, ids } = await runAccept(
    deployment.url,
    rig.body,
    settings.connections,
    settings.acceptSeconds,
  );
  return { run, ids, cpu: cpu.stop(), loadEnd: monoMs(), countsBefore };
}

/**
 * Waits for the callbacks `owed` after an accept window, then stops the deployment. The drain
 * rate counts from `drainFrom` (the window's end, or when a worker started after it).
 */
async function drainAndStop(
  rig: Rig,
  deployment: Deployment,
  window: AcceptWindow,
  owed: string[],
  drainFrom = window.loadEnd,
): Promise<AcceptResult> {
  const { callbacks } = rig;
  const { loadEnd, countsBefore } = window;
  const drained = await awaitCallbacks(rig, owed);
  const afterLoad = owed
    .map((id) => callbacks.arrivals.get(id))
    .filter((t): t is number => t !== undefined && t > loadEnd);
  const lastArrival = afterLoad.reduce((a, b) => Math.max(a, b), drainFrom);
  return {
    run: window.run,
    lost: owed.filter((id) => !callbacks.arrivals.has(id)).length,
    backlogAtLoadEnd: afterLoad.length,
    drainPerSec: afterLoad.length / ((lastArrival - drainFrom) / 1000 || 1),
    drain: drained,
    duplicates: callbacks.duplicates - countsBefore.duplicates,
    authCalls: (await authCalls(rig)) - countsBefore.authCalls,
    cpu: window.cpu,
    peakMemoryMiB: deployment.peakMemoryMiB(),
    logs: await deployment.stop(),
  };
}

/** Scenario (a), or (b) with `authHangs`: closed-loop accept load against the service. */
export async function benchAccept(rig: Rig, mode: Mode, authHangs: boolean): Promise<AcceptResult> {
  const deployment = await warmDeployment(rig, mode);
  try {
    if (authHangs) await rig.auth.command({ type: 'mode', mode: 'hang' });
    const window = await acceptWindow(rig, deployment);
    // Healthy again: what hung times out, the circuit closes, and the backlog drains.
    await rig.auth.command({ type: 'mode', mode: 'healthy' });
    return await drainAndStop(rig, deployment, window, window.ids);
  } catch (error) {
    await rig.auth.command({ type: 'mode', mode: 'healthy' });
    await deployment.stop();
    throw error;
  }
}

/**
 * Scenario (a'), the accept path's own ceiling: closed-loop accept load against `chargegate api`
 * alone, nothing decided meanwhile (an api process whose workers run elsewhere), its backlog
 * unbounded. Then a `chargegate worker` decides the backlog, warm-up included, so "lost" still
 * means no callback. Its window starts on the warm-up's backlog, which the others have decided.
 */
export async function benchAcceptApiAlone(rig: Rig, mode: Mode): Promise<AcceptResult> {
  const { settings } = rig;
  const deployment = await startDeployment(mode, settings, authorizeUrl(rig), {
    workerLater: true,
  });
  try {
    const { connections, warmupSeconds } = settings;
    const warm = await runAccept(deployment.url, rig.body, connections, warmupSeconds);
    const window = await acceptWindow(rig, deployment);
    await deployment.startWorker?.();
    const owed = [...warm.ids, ...window.ids];
    return await drainAndStop(rig, deployment, window, owed, monoMs());
  } catch (error) {
    await deployment.stop();
    throw error;
  }
}

export interface EndToEndResult extends Common {
  seconds: number;
  offeredPerSec: number;
  sent: number;
  notSent: number;
  accepted: number;
  statusCounts: Record<string, number>;
  errors: number;
  acceptLatency: LatencySummary;
  decisions: number;
  /** Decisions whose callback arrived, over first POST → last callback (the drain after the
   * load included, when the worker has the machine to itself). */
  decisionsPerSec: number;
  /** Callbacks per second while the load ran, the first second (ramp-up) left out: the
   * sustained rate the target is about. */
  duringLoadPerSec: number;
  /** Callbacks per whole second of the load, the first second (ramp-up) left out. */
  perSecondMin: number;
  perSecondMedian: number;
  latency: LatencySummary;
  backlogAtLoadEnd: number;
  lost: number;
}

/** Pairs each acknowledged POST with its callback: latencies, rates, and what never came. */
function matchCallbacks(run: OpenLoopRun, callbacks: CallbackLog, seconds: number) {
  const loadEnd = run.startedAt + seconds * 1000;
  const latencies: number[] = [];
  const perSecond = new Array<number>(Math.ceil(seconds)).fill(0);
  let [lastArrival, beforeLoadEnd] = [run.startedAt, 0];
  for (const [id, sentAt] of run.acknowledged) {
    const arrivedAt = callbacks.arrivals.get(id);
    if (arrivedAt === undefined) continue;
    latencies.push(arrivedAt - sentAt);
    lastArrival = Math.max(lastArrival, arrivedAt);
    if (arrivedAt < loadEnd) {
      beforeLoadEnd += 1;
      const second = Math.floor((arrivedAt - run.startedAt) / 1000);
      perSecond[second] = (perSecond[second] ?? 0) + 1;
    }
  }
  // The first second is ramp-up: callbacks trail their POSTs by the decision latency.
  const steady = perSecond.length > 1 ? perSecond.slice(1) : perSecond;
  return {
    decisions: latencies.length,
    decisionsPerSec: latencies.length / ((lastArrival - run.startedAt) / 1000),
    duringLoadPerSec: steady.reduce((sum, n) => sum + n, 0) / steady.length,
    perSecondMin: Math.min(...steady),
    perSecondMedian: percentile(steady, 0.5),
    latency: summarise(latencies),
    backlogAtLoadEnd: run.acknowledged.size - beforeLoadEnd,
    lost: run.acknowledged.size - latencies.length,
  };
}

/** Scenario (c): open-loop load for the configured time; each POST matched to its callback. */
export async function benchEndToEnd(rig: Rig, mode: Mode): Promise<EndToEndResult> {
  const { settings, callbacks } = rig;
  const deployment = await warmDeployment(rig, mode);
  try {
    const [duplicatesBefore, authBefore] = [callbacks.duplicates, await authCalls(rig)];
    const cpu = startCpuWindow(
      watched(rig, deployment),
      deployment.groups,
      serviceProcesses(deployment),
    );
    const run = await runOpenLoop(deployment.url, rig.body, {
      rate: settings.e2eRate,
      seconds: settings.e2eSeconds,
      connections: settings.e2eConnections,
    });
    const cpuReport = cpu.stop();
    const drained = await awaitCallbacks(rig, run.acknowledged.keys());
    return {
      seconds: settings.e2eSeconds,
      offeredPerSec: run.offeredPerSec,
      sent: run.sent,
      notSent: run.notSent,
      accepted: run.acknowledged.size,
      statusCounts: run.statusCounts,
      errors: run.errors,
      acceptLatency: run.acceptLatency,
      ...matchCallbacks(run, callbacks, settings.e2eSeconds),
      drain: drained,
      duplicates: callbacks.duplicates - duplicatesBefore,
      authCalls: (await authCalls(rig)) - authBefore,
      cpu: cpuReport,
      peakMemoryMiB: deployment.peakMemoryMiB(),
      logs: await deployment.stop(),
    };
  } catch (error) {
    await deployment.stop();
    throw error;
  }
}
