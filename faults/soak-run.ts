import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { check, type CheckResult } from './checker.js';
import { tunedEnv } from './cluster.js';
import { expectedDecision, startAuthStub, startReceiver } from './endpoints.js';
import { startLoad, type RequestRecord } from './load.js';
import { drain } from './observe.js';
import { freePort, ManagedProcess, snapshotBuild } from './processes.js';
import { seededRandom } from './profile.js';
import { STATIONS } from './run.js';
import {
  growthOver,
  measureCapacity,
  scanLog,
  startSampler,
  type Growth,
  type Sample,
  type SoakProfile,
} from './soak.js';

/** In-flight POSTs at most during the soak: far more than half the capacity needs. */
const SOAK_CONCURRENCY = 64;
/** Time for a backlog (after the capacity run) or the last callbacks to drain. */
const DRAIN_MS = 180_000;
const STOP_DEADLINE_MS = 20_000;

export interface SoakReport {
  capacityPerSecond: number;
  ratePerSecond: number;
  soakMs: number;
  samples: Sample[];
  growth: Growth;
  check: CheckResult;
  tokensInLogs: number;
  logErrors: Record<string, number>;
  exitCode: number | null;
  drainTimedOut: boolean;
}

/**
 * The soak: one `chargegate start` (API, and the worker role in threads) on SQLite, the stub
 * authorization service and the receiver. First its capacity is measured, the backlog drained,
 * then the load runs at half of it for `soakMs`, sampled every `sampleMs`; then everything
 * acknowledged in both phases is checked as in the fault runs.
 */
export async function runSoak(
  profile: SoakProfile,
  dir: string,
  log: (line: string) => void,
): Promise<SoakReport> {
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const auth = await startAuthStub(seededRandom(1));
  const receiver = await startReceiver(secret);
  const env = tunedEnv(join(dir, 'data'), auth.server.url, secret);
  const main = new ManagedProcess(
    snapshotBuild(dir),
    'main',
    'start',
    env,
    logDir,
    await freePort(),
  );
  const observed = {
    apiUrls: () => (main.running ? [main.url] : []),
    callbacks: receiver.callbacks,
  };
  try {
    await main.start();
    const base = { callbackUrl: `${receiver.server.url}/hooks/charging`, stations: STATIONS };
    const capacity = await measureCapacity(main, receiver.callbacks, base, profile.capacityMs);
    const warmAcked = capacity.records.filter((r) => r.outcome === 'acked');
    await drain(observed, warmAcked, DRAIN_MS);
    const ratePerSecond = Math.max(1, Math.floor(capacity.perSecond / 2));
    log(
      `soak: capacity ${capacity.perSecond.toFixed(0)} decisions/s, soaking at ${ratePerSecond}/s for ${profile.soakMs / 1000} s`,
    );
    const sampler = startSampler(main.url, profile.sampleMs);
    const started = Date.now();
    const load = startLoad({
      ...base,
      targets: () => [main.url],
      count: Math.ceil((ratePerSecond * profile.soakMs) / 1000),
      ratePerSecond,
      concurrency: SOAK_CONCURRENCY,
      maxDurationMs: profile.soakMs + 60_000,
    });
    await load.done;
    await load.close();
    const soakMs = Date.now() - started;
    const samples = await sampler.stop();
    const records: RequestRecord[] = [...capacity.records, ...load.records];
    const acked = records.filter((r) => r.outcome === 'acked');
    const drained = await drain(observed, acked, DRAIN_MS);
    log(`soak: drained ${acked.length} acknowledged requests in ${drained.ms} ms`);
    const exit = await Promise.race([
      main.signal('SIGTERM'),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), STOP_DEADLINE_MS)),
    ]);
    const applied = new Map<string, string[]>();
    const sent = new Set(records.map((r) => r.token));
    let tokensInLogs = 0;
    const logErrors: Record<string, number> = {};
    for (const incarnation of main.incarnations) {
      const scanned = await scanLog(incarnation.logFile, applied, sent);
      tokensInLogs += scanned.tokensFound;
      for (const [msg, n] of Object.entries(scanned.errors))
        logErrors[msg] = (logErrors[msg] ?? 0) + n;
    }
    const result = check({
      records,
      callbacks: receiver.callbacks,
      sessions: drained.sessions,
      applied,
      workerKills: [],
      expectedDecision,
    });
    return {
      capacityPerSecond: capacity.perSecond,
      ratePerSecond,
      soakMs,
      samples,
      growth: growthOver(samples, profile.windowMs, ratePerSecond),
      check: result,
      tokensInLogs,
      logErrors,
      exitCode: exit?.code ?? null,
      drainTimedOut: drained.timedOut,
    };
  } finally {
    await main.signal('SIGKILL');
    await auth.server.close();
    await receiver.server.close();
  }
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

export function formatSoak(report: SoakReport): string {
  const c = report.check;
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;
  return [
    `== soak: start mode, capacity ${report.capacityPerSecond.toFixed(0)}/s, load ${report.ratePerSecond}/s for ${(report.soakMs / 1000).toFixed(0)} s`,
    `requests: sent ${c.sent}, acknowledged ${c.acknowledged}, 503 ${c.rejected503}, indeterminate ${c.indeterminate}; lost ${c.lost}, unexpected ${c.unexpected}, duplicates ${c.duplicates}; drain timed out: ${report.drainTimedOut}`,
    `growth over the window: RSS ${percent(report.growth.rss)}, event-loop p99 ${percent(report.growth.loopP99)}, queue depth ${percent(report.growth.queueDepth)}`,
    'samples (s, RSS, event-loop p99 ms, queue depth):',
    ...report.samples.map(
      (s, i) =>
        `  ${((s.at - (report.samples[0]?.at ?? s.at)) / 1000).toFixed(0)} ${mb(s.rssBytes)} ${s.loopP99Ms.toFixed(1)} ${s.queueDepth}${i === 0 ? ' (first)' : ''}`,
    ),
    `tokens in logs: ${report.tokensInLogs}; log errors: ${JSON.stringify(report.logErrors)}; exit ${report.exitCode}`,
    `violations: ${c.violations.length}`,
    ...c.violations.slice(0, 20).map((v) => `  ${v.kind}: ${v.detail}`),
  ].join('\n');
}
