import type { DecideResults, SteadyResult } from './decide.js';
import { nonSuccessOf, type AcceptRun, type Drain } from './load.js';
import type { CpuReport } from './procstat.js';
import type { resultsDocument } from './report.js';
import { TARGETS } from './settings.js';

type Document = ReturnType<typeof resultsDocument>;

const num = (value: number, digits = 2) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      })
    : '-';
const int = (value: number) => num(value, 0);

function columns(cells: string[], widths: number[]): string {
  return cells
    .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
}

/** Whether every callback owed arrived; "lost" counts those that had not when this says. */
function drainState(drain: Drain): string {
  const after = `after ${num(drain.seconds, 1)} s`;
  if (drain.complete) return `every callback in ${num(drain.seconds, 1)} s`;
  return drain.stalled ? `callbacks stopped coming, gave up ${after}` : `drain timed out ${after}`;
}

function acceptRow(
  label: string,
  run: AcceptRun,
  ratio: { perSec: number; p50: number; p99: number },
  lost: string,
): string[] {
  return [
    label,
    int(run.perSec),
    num(ratio.perSec),
    num(run.latency.p50Ms),
    num(ratio.p50),
    num(run.latency.p99Ms),
    num(ratio.p99),
    int(nonSuccessOf(run.statusCounts)),
    int(run.errors),
    lost,
  ];
}

function acceptTable(doc: Document): string[] {
  const widths = [30, 9, 6, 7, 6, 7, 6, 8, 7, 5];
  const header = ['Accept: POST -> 202', 'req/s', 'x base', 'p50 ms', 'x base', 'p99 ms'];
  header.push('x base', 'non-2xx', 'errors', 'lost');
  const { accept, acceptAuthHanging: hang, acceptApiAlone: alone, durableFloor: floor } = doc;
  const rows = [
    acceptRow('baseline (bare Fastify)', doc.baseline.run, { perSec: 1, p50: 1, p99: 1 }, '-'),
    acceptRow('durable floor (1 insert)', floor.run, floor.ratiosToBaseline, '-'),
    acceptRow('service, auth healthy', accept.run, accept.ratiosToBaseline, int(accept.lost)),
    acceptRow('service, auth hanging', hang.run, hang.ratiosToBaseline, int(hang.lost)),
    acceptRow('api alone, nothing decided', alone.run, alone.ratiosToBaseline, int(alone.lost)),
  ];
  const backlog = (r: Document['accept']) =>
    `${int(r.backlogAtLoadEnd)} undecided at load end, drained at ${int(r.drainPerSec)}/s, ` +
    drainState(r.drain);
  return [
    columns(header, widths),
    ...rows.map((r) => columns(r, widths)),
    `  (${doc.settings.connections} connections, ${doc.baseline.run.seconds} s each, one after ` +
      `the other; x base = ratio to the baseline: more throughput above 1, more latency above 1)`,
    `  (auth healthy: ${backlog(doc.accept)}; auth hanging: ${backlog(doc.acceptAuthHanging)})`,
    `  (api alone: chargegate api with no worker and no backlog bound during the window, which ` +
      `starts on the warm-up's backlog: the accept path's ceiling; then a worker started and ` +
      `decided the ${int(alone.backlogAtLoadEnd)} accepted, warm-up included, at ` +
      `${int(alone.drainPerSec)}/s, ${drainState(alone.drain)})`,
    '  (durable floor: bare Fastify storing each body as one SQLite row, group-committed, before ' +
      'its 202: what durability alone costs)',
  ];
}

/** CPU per accept beside what the accept target leaves for it (`acceptBudget`). */
function budgetLines(doc: Document): string[] {
  const b = doc.acceptBudget;
  const widths = [30, 10, 8];
  const row = (label: string, c: { eventLoop: number; all: number }) =>
    columns([label, num(c.eventLoop, 1), num(c.all, 1)], widths);
  return [
    columns(['CPU per request, µs', 'event loop', 'all'], widths),
    row('baseline (bare Fastify)', b.baseline),
    row('durable floor (1 insert)', b.durableFloor),
    row('service, auth healthy', b.accept),
    row('service, auth hanging', b.acceptAuthHanging),
    row('api alone, nothing decided', b.acceptApiAlone),
    columns(['load generator', '', num(b.loadGeneratorUs, 1)], widths),
    `  (event loop = the accepting thread; all = every thread and process of the server, the ` +
      `stubs not: ${
        doc.mode === 'embedded'
          ? "the worker threads' deciding meanwhile included; api alone: its one process"
          : 'the worker process deciding meanwhile included (api alone: none), and every ' +
            'redis-server and postgres process on the machine'
      })`,
    `  (${num(TARGETS.acceptRatio, 1)} x the baseline = ${int(b.targetPerSec)} accepts/s: ` +
      `${num(b.oneEventLoopUs, 1)} µs of CPU per accept for one event loop, ` +
      `${num(b.machineUs, 1)} µs for all ${doc.machine.cpuCount} cores less the load generator)`,
  ];
}

function endToEndLines(doc: Document): string[] {
  const e = doc.endToEnd;
  return [
    `End to end: POST -> callback received (${e.seconds} s open loop, ${int(e.offeredPerSec)} req/s offered)`,
    `  accepted ${int(e.accepted)} of ${int(e.sent)} sent (non-202 ${int(nonSuccessOf(e.statusCounts))}, ` +
      `errors ${int(e.errors)}, not sent ${int(e.notSent)})`,
    `  decisions/s during the load ${int(e.duringLoadPerSec)} (each second: min ${int(e.perSecondMin)}, ` +
      `median ${int(e.perSecondMedian)}); until the last callback ${int(e.decisionsPerSec)}`,
    `  POST -> callback  p50 ${num(e.latency.p50Ms)} ms  p99 ${num(e.latency.p99Ms)} ms  ` +
      `max ${num(e.latency.maxMs)} ms`,
    `  POST -> 202       p50 ${num(e.acceptLatency.p50Ms)} ms  p99 ${num(e.acceptLatency.p99Ms)} ms`,
    `  undecided when the load stopped ${int(e.backlogAtLoadEnd)}; lost ${int(e.lost)} ` +
      `(${drainState(e.drain)}); duplicate callbacks ${int(e.duplicates)}; ` +
      `auth calls ${int(e.authCalls)}`,
  ];
}

/**
 * The deciding scenarios of the service beside the in-memory pipeline's: decisions per second
 * (closed loop), time to decision at steady rates (open loop), CPU per decision.
 */
export function decideLines(label: string, decide: DecideResults, pipeline: DecideResults) {
  const widths = [34, 11, 9, 9, 9, 10, 6];
  const t = decide.throughput;
  const p = pipeline.throughput;
  const steadyRow = (name: string, s: SteadyResult) =>
    columns(
      [
        `${name} at ${int(s.rate)}/s`,
        int(s.decisionsPerSec),
        num(s.latency.p50Ms),
        num(s.latency.p99Ms),
        num(s.acceptLatency.p99Ms),
        num(s.cpuUsPerDecision, 0),
        int(s.lost),
      ],
      widths,
    );
  const closedRow = (name: string, r: DecideResults['throughput']) =>
    columns(
      [
        name,
        int(r.decisionsPerSec),
        num(r.latency.p50Ms),
        num(r.latency.p99Ms),
        '',
        num(r.cpuUsPerDecision, 0),
        int(r.lost),
      ],
      widths,
    );
  const rows = [
    columns(['Deciding', 'decided/s', 'p50 ms', 'p99 ms', '202 p99', 'CPU µs/dec', 'lost'], widths),
    closedRow('pipeline, closed loop', p),
    closedRow(`${label}, closed loop (${num(t.decisionsPerSec / p.decisionsPerSec)} x)`, t),
  ];
  for (const [i, s] of decide.steady.entries()) {
    const reference = pipeline.steady[i];
    if (reference !== undefined) rows.push(steadyRow('pipeline', reference));
    rows.push(steadyRow(label, s));
  }
  return [
    ...rows,
    `  (closed loop: ${t.connections} drivers for ${t.seconds} s, each POSTing and waiting for ` +
      `its callback before the next; decided/s = callbacks during the window, its first second ` +
      `left out; ${label}: non-2xx ${int(t.nonSuccess)}, ${drainState(t.drain)})`,
    '  (steady: open loop at the rate shown, p50/p99 = POST sent -> its callback received; ' +
      '202 p99 = POST sent -> 202; CPU µs/dec = every thread and process of it, Redis and ' +
      'PostgreSQL included, per decision during the window)',
  ];
}

function memoryLines(doc: Document): string[] {
  const line = (label: string, m: Record<string, number>) =>
    `  ${label.padEnd(24)}${Object.entries(m)
      .map(([name, mib]) => `${name} ${num(mib, 1)} MiB`)
      .join(', ')}`;
  return [
    'Peak memory (VmHWM of each service process, fresh process per scenario)',
    line('accept, auth healthy', doc.peakMemoryMiB.accept),
    line('accept, auth hanging', doc.peakMemoryMiB.acceptAuthHanging),
    line('accept, api alone', doc.peakMemoryMiB.acceptApiAlone),
    '  (api alone: the worker is started after the window, to decide its backlog)',
    line('end to end', doc.peakMemoryMiB.endToEnd),
  ];
}

function cpuLines(doc: Document): string[] {
  const widths = [22, 32, 6, 8, 9, 9];
  const lines = [
    'CPU, % of one core (200 % = both cores), over each measured load window',
    columns(['scenario', 'process', 'CPU %', 'main th', 'main wait', 'other th'], widths),
  ];
  const add = (scenario: string, cpu: CpuReport) => {
    const rows = [
      ...cpu.processes.map((p) => [
        p.name,
        num(p.cpuPercent, 0),
        num(p.mainThreadPercent, 0),
        num(p.mainThreadWaitingPercent, 0),
        num(p.busiestOtherThreadPercent, 0),
      ]),
      ...cpu.groups.map((g) => [`${g.name} (all processes)`, num(g.cpuPercent, 0)]),
      ['anything else on the machine', num(cpu.otherPercent, 0)],
      ['machine total', num(cpu.machineBusyPercent, 0)],
    ];
    rows.forEach((row, i) => lines.push(columns([i === 0 ? scenario : '', ...row], widths)));
  };
  add('baseline', doc.baseline.cpu);
  add('durable floor', doc.durableFloor.cpu);
  add('accept, auth healthy', doc.accept.cpu);
  add('accept, auth hanging', doc.acceptAuthHanging.cpu);
  add('accept, api alone', doc.acceptApiAlone.cpu);
  add('end to end', doc.endToEnd.cpu);
  lines.push(
    '  (main th = the event loop thread running; main wait = it was ready but waited for a ' +
      'core; main th + main wait near 100 = CPU-bound; other th = busiest other thread)',
  );
  return lines.concat(threadStateLines(doc));
}

function threadStateLines(doc: Document): string[] {
  const lines = ['', 'Where the service threads were (sampled every 20 ms, % of samples)'];
  const format = (states: Record<string, number>) =>
    Object.entries(states)
      .slice(0, 4)
      .map(([state, pct]) => `${state} ${num(pct, 0)}`)
      .join(', ');
  for (const [scenario, cpu] of [
    ['accept, auth healthy', doc.accept.cpu],
    ['accept, auth hanging', doc.acceptAuthHanging.cpu],
    ['accept, api alone', doc.acceptApiAlone.cpu],
    ['end to end', doc.endToEnd.cpu],
  ] as const) {
    for (const { name, states } of cpu.processes) {
      if (states === undefined) continue;
      lines.push(`  ${scenario.padEnd(22)}${name} main thread: ${format(states.main)}`);
      lines.push(`  ${''.padEnd(22)}${name} busiest other thread: ${format(states.busiestOther)}`);
    }
  }
  lines.push(
    '  (running includes waiting for a core; nanosleep = a timed sleep such as SQLite backing ' +
      'off a locked database; futex = waiting for another thread)',
  );
  return lines;
}

function logLines(doc: Document): string[] {
  const scenarios = [
    ['accept, auth healthy', doc.accept.logs],
    ['accept, auth hanging', doc.acceptAuthHanging.logs],
    ['accept, api alone', doc.acceptApiAlone.logs],
    ['end to end', doc.endToEnd.logs],
  ] as const;
  const all = scenarios.flatMap(([, logs]) => Object.values(logs));
  const reasons = scenarios.map(([scenario, logs]) => {
    const counts: Record<string, number> = {};
    for (const log of Object.values(logs)) {
      for (const [reason, n] of Object.entries(log.decisionReasons)) {
        counts[reason] = (counts[reason] ?? 0) + n;
      }
    }
    const text = Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => `${reason} ${int(n)}`)
      .join(', ');
    return `  ${scenario.padEnd(22)}decisions by reason (warm-up included): ${text || 'none logged'}`;
  });
  const warnings = all.reduce((a, l) => a + l.warnings, 0);
  const errors = all.reduce((a, l) => a + l.errors, 0);
  const messages = [...new Set(all.flatMap((l) => l.messages))].slice(0, 5);
  return [
    `Service logs: ${int(warnings)} warnings, ${int(errors)} errors` +
      (messages.length > 0 ? ` (${messages.join('; ')})` : ''),
    ...reasons,
  ];
}

export function renderTable(doc: Document, savedTo: string): string {
  const m = doc.machine;
  const s = doc.settings;
  return [
    `Chargegate benchmark: ${doc.mode} mode${s.quick ? ' (quick run)' : ''}, ${doc.startedAt}`,
    `Machine: ${m.cpuCount} x ${m.cpuModel}, ${num(m.memoryGiB, 1)} GiB, Node ${m.node}, ${m.os}; ` +
      `data dir ${m.dataDir}; load average at start ${m.loadAverageAtStart.map((l) => num(l)).join(' ')}`,
    m.note,
    `Service: ${Object.entries(doc.serviceEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}; everything else at its default`,
    '',
    ...acceptTable(doc),
    '',
    ...budgetLines(doc),
    '',
    ...endToEndLines(doc),
    '',
    ...decideLines(doc.mode, doc.decide, doc.pipeline),
    '',
    ...memoryLines(doc),
    '',
    ...cpuLines(doc),
    '',
    ...logLines(doc),
    '',
    ...doc.contention.map(
      (c) =>
        `WARNING: other processes on the machine used ${num(c.otherPercent, 0)} % of a core during ` +
        `"${c.scenario}": its figures understate what the service does on a machine of its own.`,
    ),
    'Targets',
    ...doc.targets.map(
      (t) =>
        `  ${t.status.toUpperCase().padEnd(5)}${t.description.padEnd(62)}${t.measured}` +
        (t.note ? ` (${t.note})` : ''),
    ),
    '',
    `Saved ${savedTo}`,
  ].join('\n');
}
