import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Mode } from './deployments.js';
import { lostInDecide, type DecideResults } from './decide.js';
import type { AcceptRun } from './load.js';
import type { CpuReport } from './procstat.js';
import {
  isServiceProcess,
  LOAD_GENERATOR,
  type AcceptResult,
  type BaselineResult,
  type EndToEndResult,
} from './scenarios.js';
import { TARGETS, type Settings } from './settings.js';

/** CPU that other processes may take during a window before its figures are flagged: the
 * machine is shared, and 2 cores leave no room for someone else's test suite. */
const CONTENTION_PERCENT = 25;

const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

export interface ModeResults {
  mode: Mode;
  accept: AcceptResult;
  acceptAuthHanging: AcceptResult;
  /** `chargegate api` alone, its backlog decided after the window: the accept path's ceiling. */
  acceptApiAlone: AcceptResult;
  endToEnd: EndToEndResult;
  /** The deciding scenarios (`decide.ts`), beside the in-memory pipeline's. */
  decide: DecideResults;
}

/** Acknowledged requests of every scenario that got no callback after its drain. */
function lostOf(results: ModeResults): number {
  const { accept, acceptAuthHanging, acceptApiAlone, endToEnd } = results;
  return (
    accept.lost +
    acceptAuthHanging.lost +
    acceptApiAlone.lost +
    endToEnd.lost +
    lostInDecide(results.decide)
  );
}

export interface Target {
  description: string;
  measured: string;
  status: 'pass' | 'fail' | 'n/a';
  note?: string;
}

export function machine(settings: Settings, loadAverageAtStart: number[]) {
  const cpus = os.cpus();
  let dataDirFilesystem = 'unknown';
  try {
    dataDirFilesystem = execFileSync('stat', ['-f', '-c', '%T', os.tmpdir()], {
      encoding: 'utf8',
    }).trim();
  } catch {
    // not Linux coreutils: leave it unknown
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverageAtStart,
    dataDir: `${os.tmpdir()} (${dataDirFilesystem})`,
    note:
      `Every process (load generator, service, auth stub, callback receiver, baseline) runs on ` +
      `these same ${cpus.length} cores, so each figure includes the load generator's and the ` +
      `stubs' competition for CPU${settings.quick ? '; quick run: short windows, indicative only' : ''}.`,
  };
}

/** Ratios to the baseline: above 1 is more throughput, or more latency, than bare Fastify. */
function ratios(run: AcceptRun, baseline: AcceptRun) {
  return {
    perSec: run.perSec / baseline.perSec,
    p50: run.latency.p50Ms / baseline.latency.p50Ms,
    p99: run.latency.p99Ms / baseline.latency.p99Ms,
  };
}

const f = (value: number, digits = 2) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : '-';

function noteOf(notes: string[]): { note?: string } {
  const note = notes.filter((n) => n !== '').join('; ');
  return note === '' ? {} : { note };
}

const verdict = (ok: boolean, applies = true) => (!applies ? 'n/a' : ok ? 'pass' : 'fail');

/** The deciding targets: throughput against the in-memory pipeline's, time to decision. */
export function decideTargets(
  mode: Mode,
  decide: DecideResults,
  pipeline: DecideResults,
): Target[] {
  const wanted = TARGETS.decideRatio[mode];
  const ratio = decide.throughput.decisionsPerSec / pipeline.throughput.decisionsPerSec;
  const at = decide.steady.find((s) => s.rate === TARGETS.steadyRate);
  const steadyAt = `at ${f(TARGETS.steadyRate, 0)}/s`;
  return [
    {
      description: `decisions/s >= ${wanted} x the in-memory pipeline`,
      measured:
        `${f(ratio)} x (${f(decide.throughput.decisionsPerSec, 0)} vs ` +
        `${f(pipeline.throughput.decisionsPerSec, 0)}/s)`,
      status: verdict(ratio >= wanted),
    },
    {
      description: `POST -> callback p50 <= ${TARGETS.steadyP50Ms} ms ${steadyAt}`,
      measured: at === undefined ? 'not run' : `${f(at.latency.p50Ms)} ms`,
      status: verdict((at?.latency.p50Ms ?? NaN) <= TARGETS.steadyP50Ms, at !== undefined),
    },
    {
      description: `POST -> callback p99 <= ${TARGETS.steadyP99Ms} ms ${steadyAt}`,
      measured: at === undefined ? 'not run' : `${f(at.latency.p99Ms)} ms`,
      status: verdict((at?.latency.p99Ms ?? NaN) <= TARGETS.steadyP99Ms, at !== undefined),
    },
  ];
}

export function evaluateTargets(
  settings: Settings,
  results: ModeResults,
  baseline: BaselineResult,
  pipeline: DecideResults,
): Target[] {
  const { accept, acceptAuthHanging: hang, acceptApiAlone: alone, endToEnd: e2e } = results;
  const ratio = alone.run.perSec / baseline.run.perSec;
  const at50 = settings.connections === TARGETS.acceptConnections;
  const lost = lostOf(results);
  const cutShort = [accept, hang, alone, e2e].some((r) => !r.drain.complete && !r.drain.stalled);
  return [
    {
      description: `accept by the api alone >= ${TARGETS.acceptRatio} x baseline`,
      measured: `${f(ratio)} x (${f(alone.run.perSec, 0)} vs ${f(baseline.run.perSec, 0)} req/s)`,
      status: verdict(ratio >= TARGETS.acceptRatio, at50),
      ...noteOf([at50 ? '' : `stated at ${TARGETS.acceptConnections} connections`]),
    },
    {
      description: `accept p99 <= ${TARGETS.acceptP99Ms} ms at ${TARGETS.acceptConnections} connections while deciding`,
      measured: `${f(accept.run.latency.p99Ms)} ms`,
      status: verdict(accept.run.latency.p99Ms <= TARGETS.acceptP99Ms, at50),
      ...noteOf([results.mode === 'embedded' ? '' : 'stated for embedded mode']),
    },
    ...decideTargets(results.mode, results.decide, pipeline),
    {
      description: `accept p99 with auth hanging <= ${TARGETS.hangP99Ratio} x healthy`,
      measured: `${f(hang.run.latency.p99Ms / accept.run.latency.p99Ms)} x (${f(hang.run.latency.p99Ms)} vs ${f(accept.run.latency.p99Ms)} ms)`,
      status: verdict(hang.run.latency.p99Ms <= TARGETS.hangP99Ratio * accept.run.latency.p99Ms),
    },
    {
      description: 'requests lost = 0 (acknowledged, no callback after the drain)',
      measured: `${lost}`,
      status: verdict(lost === 0),
      ...noteOf([
        cutShort && lost > 0
          ? `a drain reached BENCH_DRAIN_TIMEOUT_SECONDS (${settings.drainTimeoutSeconds} s) ` +
            'with callbacks still arriving: late, or lost'
          : '',
      ]),
    },
  ];
}

/** CPU per request in µs: the accepting event loop's, and all the server's (every thread and
 * process of it, and in distributed mode Redis and PostgreSQL). */
export interface CpuPerRequest {
  eventLoop: number;
  all: number;
}

/** µs of CPU per request from a window's % of one core and the requests served a second. */
const usPerRequest = (cpuPercent: number, perSec: number) => (cpuPercent * 10_000) / perSec;

/**
 * `servers` are the server's processes, the accepting one first (`start` or `api`, or a
 * reference server); the service's also count the servers in `groups` (Redis, PostgreSQL).
 */
function perRequest(cpu: CpuReport, perSec: number, service: boolean): CpuPerRequest {
  const servers = cpu.processes.filter((p) =>
    service ? isServiceProcess(p.name) : p.name !== LOAD_GENERATOR.name,
  );
  const groups = service ? cpu.groups.reduce((a, g) => a + g.cpuPercent, 0) : 0;
  const all = servers.reduce((a, p) => a + p.cpuPercent, 0) + groups;
  return {
    eventLoop: usPerRequest(servers[0]?.mainThreadPercent ?? NaN, perSec),
    all: usPerRequest(all, perSec),
  };
}

/**
 * What the accept target leaves the service, in CPU per accept, beside what each server spent.
 * At `TARGETS.acceptRatio` × the baseline's rate, one event loop has a second divided by that
 * rate per accept; the machine has its cores less the load generator's share, which costs per
 * request what it cost in the baseline window. (A service's `all` includes whatever it decided
 * meanwhile: the event loop is the accept path's own cost.)
 */
export function acceptBudget(
  baseline: BaselineResult,
  floor: BaselineResult,
  results: ModeResults,
  cores: number,
) {
  const targetPerSec = TARGETS.acceptRatio * baseline.run.perSec;
  const generator = baseline.cpu.processes.find((p) => p.name === LOAD_GENERATOR.name);
  const loadGeneratorUs = usPerRequest(generator?.cpuPercent ?? NaN, baseline.run.perSec);
  const service = (r: AcceptResult) => perRequest(r.cpu, r.run.perSec, true);
  return {
    targetPerSec,
    loadGeneratorUs,
    oneEventLoopUs: 1e6 / targetPerSec,
    machineUs: (cores * 1e6) / targetPerSec - loadGeneratorUs,
    baseline: perRequest(baseline.cpu, baseline.run.perSec, false),
    durableFloor: perRequest(floor.cpu, floor.run.perSec, false),
    accept: service(results.accept),
    acceptAuthHanging: service(results.acceptAuthHanging),
    acceptApiAlone: service(results.acceptApiAlone),
  };
}

/** Connection strings without their passwords. */
function redact(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable)';
  }
}

export function resultsDocument(run: {
  settings: Settings;
  startedAt: Date;
  loadAverageAtStart: number[];
  env: Record<string, string>;
  baseline: BaselineResult;
  /** Fastify and one group-committed SQLite insert: what durability alone costs. */
  durableFloor: BaselineResult;
  results: ModeResults;
  /** The in-memory pipeline's deciding scenarios, the reference for `results.decide`. */
  pipeline: DecideResults;
  targets: Target[];
}) {
  const { settings, startedAt, env, baseline, durableFloor, results, pipeline, targets } = run;
  const memory = {
    accept: results.accept.peakMemoryMiB,
    acceptAuthHanging: results.acceptAuthHanging.peakMemoryMiB,
    acceptApiAlone: results.acceptApiAlone.peakMemoryMiB,
    endToEnd: results.endToEnd.peakMemoryMiB,
  };
  const totals = Object.values(memory).map((m) => Object.values(m).reduce((a, b) => a + b, 0));
  const windows: [string, CpuReport][] = [
    ['baseline', baseline.cpu],
    ['durable floor', durableFloor.cpu],
    ['accept, auth healthy', results.accept.cpu],
    ['accept, auth hanging', results.acceptAuthHanging.cpu],
    ['accept, api alone', results.acceptApiAlone.cpu],
    ['end to end', results.endToEnd.cpu],
    ['decide: throughput', results.decide.throughput.cpu],
    ['pipeline: throughput', pipeline.throughput.cpu],
    ...results.decide.steady.map((s): [string, CpuReport] => [`decide: ${s.rate}/s`, s.cpu]),
  ];
  return {
    benchmark: 'chargegate',
    mode: results.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machine(settings, run.loadAverageAtStart),
    settings: {
      ...settings,
      redisUrl: redact(settings.redisUrl),
      databaseUrl: redact(settings.databaseUrl),
    },
    serviceEnv: env,
    baseline,
    durableFloor: { ...durableFloor, ratiosToBaseline: ratios(durableFloor.run, baseline.run) },
    accept: { ...results.accept, ratiosToBaseline: ratios(results.accept.run, baseline.run) },
    acceptAuthHanging: {
      ...results.acceptAuthHanging,
      ratiosToBaseline: ratios(results.acceptAuthHanging.run, baseline.run),
    },
    acceptApiAlone: {
      ...results.acceptApiAlone,
      ratiosToBaseline: ratios(results.acceptApiAlone.run, baseline.run),
    },
    acceptBudget: acceptBudget(baseline, durableFloor, results, os.availableParallelism()),
    endToEnd: results.endToEnd,
    decide: results.decide,
    pipeline,
    peakMemoryMiB: { ...memory, max: Math.max(...totals) },
    lost: lostOf(results),
    targets,
    contention: windows
      .filter(([, cpu]) => cpu.otherPercent > CONTENTION_PERCENT)
      .map(([scenario, cpu]) => ({ scenario, otherPercent: cpu.otherPercent })),
  };
}

/** Writes bench/results/<ISO date>-<mode>.json with numbers to 2 decimals; returns its path. */
export function save(document: { startedAt: string; mode: string }, quick: boolean): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = document.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const path = `${RESULTS_DIR}${stamp}-${document.mode}${quick ? '-quick' : ''}.json`;
  const text = JSON.stringify(
    document,
    (_key, value: unknown) =>
      typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 100) / 100 : value,
    2,
  );
  writeFileSync(path, `${text}\n`);
  return path;
}
