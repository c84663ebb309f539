import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, type CheckResult, type Violation } from './checker.js';
import { startCluster, type Cluster, type Mode } from './cluster.js';
import { expectedDecision } from './endpoints.js';
import { startLoad, type RequestRecord } from './load.js';
import { drain, fetchMetrics, readLogs } from './observe.js';
import { checkFaults } from './fault-checks.js';

/** The longest lease with the suite's timeouts: a request's, twice AUTH_TIMEOUT_MS (1 s) plus
 * its 5 s margin (a callback's is CALLBACK_TIMEOUT_MS plus 5 s, 6 s). */
const LEASE_QUIET_MS = 7_000;

/** Resolves once `cluster` has received no callback for `quietMs`, or after `limitMs`. */
async function quietFor(cluster: Cluster, quietMs: number, limitMs: number): Promise<void> {
  const limit = Date.now() + limitMs;
  let count = cluster.callbacks.length;
  let changedAt = Date.now();
  while (Date.now() - changedAt < quietMs && Date.now() < limit) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (cluster.callbacks.length !== count) {
      count = cluster.callbacks.length;
      changedAt = Date.now();
    }
  }
}
import { scanForTokens, type PrivacySource } from './privacy.js';
import { seededRandom, type Profile } from './profile.js';
import { planFaults, plannedDurationMs, type FaultType } from './plan.js';
import { runFaults, type FaultRecord } from './scenarios.js';
import { summarizeShutdowns, type ShutdownSummary } from './shutdown.js';
import { summarize, type FaultSummary } from './summary.js';

/** Stations the load spreads over, so that both Redis partitions take messages. */
export const STATIONS = [
  '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f',
  '3f1e2d4c-6b5a-4978-8a6b-5c4d3e2f1a0b',
  '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
  'c0ffee00-0000-4000-8000-000000000001',
  'deadbeef-1234-4567-89ab-cdef01234567',
  'a1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7',
];
/** Load after the last fault heals, so that its recovery shows in what the clients saw. */
const RECOVERY_TAIL_MS = 8_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A process exits within the suite's SHUTDOWN_TIMEOUT_MS (10 s) plus this on the final stop. */
const FINAL_STOP_DEADLINE_MS = 20_000;

/** A run of other faults than the mode's schedule (e.g. the full disk), or of another size. */
export interface RunOptions {
  faults?: FaultType[];
  requests?: number;
  /** Embedded mode's `DATA_DIR`. */
  dataDir?: string;
}

export interface ModeReport {
  mode: Mode;
  profile: Profile['name'];
  seed: number;
  runDir: string;
  durations: { setupMs: number; loadMs: number; drainMs: number; totalMs: number };
  drainTimedOut: boolean;
  ratePerSecond: number;
  check: CheckResult;
  faults: FaultRecord[];
  perFault: Record<string, FaultSummary>;
  shutdowns: ShutdownSummary[];
  privacy: PrivacySource[];
  logs: { errors: Record<string, number>; warnings: Record<string, number> };
  authCalls: number;
  restarts: Record<string, number>;
  violations: Violation[];
}

/** SIGTERMs every process at once; each must exit 0 with its in-flight work done. */
async function stopAll(cluster: Cluster): Promise<Violation[]> {
  const violations: Violation[] = [];
  await Promise.all(
    cluster.processes.map(async (process) => {
      const exit = await Promise.race([
        process.signal('SIGTERM'),
        new Promise<'stuck'>((resolve) =>
          setTimeout(() => resolve('stuck'), FINAL_STOP_DEADLINE_MS),
        ),
      ]);
      if (exit === 'stuck') {
        violations.push({ kind: 'stuck', detail: `${process.name} ignored SIGTERM` });
        await process.signal('SIGKILL');
      }
    }),
  );
  return violations;
}

/** Sends the load, paced to span the fault schedule, while the faults are injected. */
async function exercise(
  cluster: Cluster,
  profile: Profile,
  random: () => number,
  log: (line: string) => void,
  only: FaultType[] | undefined,
) {
  const plan = planFaults(only ?? cluster.mode, profile, random);
  const plannedMs = plannedDurationMs(plan);
  const ratePerSecond = Math.max(
    profile.minRatePerSecond,
    Math.round((profile.requests * 1000) / plannedMs),
  );
  const requests = Math.round((ratePerSecond * plannedMs) / 1000);
  log(
    `${cluster.mode}: ${plan.length} faults over ~${Math.round(plannedMs / 1000)} s, ${requests} POSTs at ${ratePerSecond}/s, run dir ${cluster.dir}`,
  );
  const started = Date.now();
  const load = startLoad({
    // Every API in rotation, up or not: a client learns of a crash from refused connections.
    targets: () => cluster.apis.filter((p) => p.inRotation).map((p) => p.url),
    // Paced for the plan; the load goes on while the schedule runs late, then stops.
    count: requests * 4,
    ratePerSecond,
    concurrency: profile.concurrency,
    callbackUrl: cluster.callbackUrl,
    stations: STATIONS,
    maxDurationMs: plannedMs * 3 + 60_000,
  });
  const faults = await runFaults(cluster, load, plan, random, log);
  // The last fault's recovery is measured on the load that follows it.
  await sleep(RECOVERY_TAIL_MS);
  load.stop();
  await load.done;
  await load.close();
  return { records: load.records, faults, ratePerSecond, loadMs: Date.now() - started };
}

/** Checks everything observed after the drain and the final stop; lists every violation. */
async function judge(
  cluster: Cluster,
  records: RequestRecord[],
  faults: FaultRecord[],
  drained: Awaited<ReturnType<typeof drain>>,
  metrics: string[],
) {
  const logs = readLogs(
    cluster.processes.flatMap((p) => p.incarnations),
    (i) => readFileSync(i.logFile, 'utf8'),
  );
  const workerKills = cluster.workers
    .flatMap((w) => w.incarnations)
    .flatMap(({ startedAt, signals }) =>
      signals.filter((s) => s.signal === 'SIGKILL').map((s) => ({ startedAt, killedAt: s.at })),
    );
  const result = check({
    records,
    callbacks: cluster.callbacks,
    sessions: drained.sessions,
    applied: logs.applied,
    workerKills,
    expectedDecision,
  });
  const shutdowns = summarizeShutdowns(cluster, faults, records);
  const calledBack = new Set(cluster.callbacks.map((c) => c.token));
  const delivered = records.filter((r) => r.outcome === 'acked' && calledBack.has(r.token));
  const privacy = await scanForTokens(
    cluster,
    { sent: records.map((r) => r.token), delivered: delivered.map((r) => r.token) },
    metrics,
  );
  const violations: Violation[] = [
    ...result.violations,
    ...shutdowns.violations,
    ...logs.crashes.map((detail) => ({ kind: 'crash', detail })),
    ...logs.unfinishedShutdowns.map((detail) => ({ kind: 'unclean-shutdown', detail })),
    ...faults
      .filter((f) => f.problem !== undefined)
      .map((f) => ({ kind: f.type, detail: `${f.target}: ${f.problem}` })),
    ...privacy
      .filter((p) => p.enforced && p.found > 0)
      .map((p) => ({ kind: 'token-leak', detail: `${p.name}: ${p.where.join(', ')}` })),
    ...(drained.timedOut ? [{ kind: 'drain-timeout', detail: `${drained.ms} ms` }] : []),
    ...checkFaults(faults, records, cluster.callbacks),
  ];
  return { result, shutdowns: shutdowns.summaries, privacy, logs, violations };
}

/**
 * One mode's run: start the cluster, send the load while the faults are injected one after
 * another, heal everything, drain, stop every process with SIGTERM, then check what the
 * clients were told against what the receiver got, the `GET`s, the logs and the stores.
 */
export async function runMode(
  mode: Mode,
  profile: Profile,
  seed: number,
  dir: string,
  log: (line: string) => void,
  options: RunOptions = {},
): Promise<ModeReport> {
  const started = Date.now();
  const random = seededRandom(seed);
  log(`${mode}: seed ${seed} (FAULTS_SEED replays the schedule)`);
  const cluster = await startCluster(
    mode,
    dir,
    random,
    options.dataDir === undefined ? {} : { dataDir: options.dataDir },
  );
  try {
    const setupMs = Date.now() - started;
    const sized = { ...profile, requests: options.requests ?? profile.requests };
    const { records, faults, ratePerSecond, loadMs } = await exercise(
      cluster,
      sized,
      random,
      log,
      options.faults,
    );
    const acked = records.filter((r) => r.outcome === 'acked');
    const drained = await drain(cluster, acked, profile.drainTimeoutMs);
    log(
      `${mode}: drained ${acked.length} acknowledged requests in ${drained.ms} ms${drained.timedOut ? ' (TIMED OUT)' : ''}`,
    );
    // Late duplicates still count: a message whose lease expired mid-delivery comes back after
    // the lease (7 s at most), so wait until no callback has arrived for that long.
    await quietFor(cluster, LEASE_QUIET_MS, LEASE_QUIET_MS * 5);
    const metrics = await fetchMetrics(cluster);
    const stopViolations = await stopAll(cluster);
    const verdict = await judge(cluster, records, faults, drained, metrics);
    const report: ModeReport = {
      mode,
      profile: profile.name,
      seed,
      runDir: dir,
      durations: { setupMs, loadMs, drainMs: drained.ms, totalMs: Date.now() - started },
      drainTimedOut: drained.timedOut,
      ratePerSecond,
      check: verdict.result,
      faults,
      perFault: summarize(faults, records, cluster.callbacks, verdict.result.lostRequestIds),
      shutdowns: verdict.shutdowns,
      privacy: verdict.privacy,
      logs: { errors: verdict.logs.errors, warnings: verdict.logs.warnings },
      authCalls: cluster.authCalls(),
      restarts: {
        ...Object.fromEntries(cluster.processes.map((p) => [p.name, p.incarnations.length - 1])),
        ...(cluster.redis === undefined ? {} : { redis: cluster.redis.starts - 1 }),
        ...(cluster.postgres === undefined ? {} : { postgres: cluster.postgres.starts - 1 }),
      },
      violations: [...verdict.violations, ...stopViolations],
    };
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2));
    // The client's view of every POST, for digging into a failed run (tokens left out).
    const requests = records.map(({ token: _token, ...rest }) => rest);
    writeFileSync(join(dir, 'requests.json'), JSON.stringify(requests));
    return report;
  } finally {
    await cluster.dispose();
  }
}
