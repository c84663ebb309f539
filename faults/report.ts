import type { ModeReport } from './run.js';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A human summary of one mode's run, printed by the suite (and copied into the docs). */
export function formatReport(report: ModeReport): string {
  const c = report.check;
  const lines = [
    `== ${report.mode} mode, profile ${report.profile}, seed ${report.seed}`,
    `requests: sent ${c.sent}, acknowledged ${c.acknowledged}, 503 ${c.rejected503}, other status ${c.rejectedOther}, bad input ${c.badInputSent}, indeterminate ${c.indeterminate} (${c.indeterminateCalledBack} of them called back), refused connections resent ${c.refusedAttempts}`,
    `indeterminate by client error: ${JSON.stringify(c.indeterminateErrors)}`,
    `bad input (kind and answer): ${JSON.stringify(c.badInput)}`,
    `check: lost ${c.lost}, unexpected ${c.unexpected}, callbacks ${c.callbacks}, duplicates ${c.duplicates}, decided without a log line by a process later SIGKILLed ${c.decidedUnlogged} (at most ${c.decidedUnloggedMaxLagMs} ms before the kill)`,
    `decisions: ${Object.entries(c.decisions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; authorization calls ${report.authCalls}`,
    `durations: setup ${seconds(report.durations.setupMs)}, load ${seconds(report.durations.loadMs)} at ${report.ratePerSecond}/s, drain ${seconds(report.durations.drainMs)}, total ${seconds(report.durations.totalMs)}`,
    `restarts: ${Object.entries(report.restarts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    'faults (type: injections, held, POSTs sent during / acked / 503 / indeterminate, their answer p50/max; to the next fault: lost, duplicates; longest time to recover):',
    ...Object.entries(report.perFault).map(
      ([type, s]) =>
        `  ${type}: ${s.injections}, ${seconds(s.heldMs)}, ${s.sent} / ${s.acked} / ${s.rejected503} / ${s.indeterminate}, answered in ${s.answerMs === undefined ? '-' : `${s.answerMs.p50}/${s.answerMs.max} ms`}; lost ${s.lost}, duplicates ${s.duplicates}; recovered in ${s.recoveryMs === null ? 'NEVER' : seconds(s.recoveryMs)}`,
    ),
    'SIGTERM under load (answers to POSTs in flight at the signal | sent while stopping; work finished while stopping):',
    ...report.shutdowns.map(
      (d) =>
        `  ${d.target}: exit ${d.exitCode} after ${d.exitAfterMs} ms; ${JSON.stringify(d.inFlightAtSignal)} | ${JSON.stringify(d.duringShutdown)}; ${d.decidedWhileStopping} decided, ${d.deliveredWhileStopping} callbacks delivered`,
    ),
    'privacy (distinct sent tokens found):',
    ...report.privacy.map(
      (p) =>
        `  ${p.name}: ${p.found} in ${p.size} bytes${p.enforced ? '' : ' (reported only)'}${p.where.length > 0 ? ` — ${p.where.slice(0, 3).join('; ')}` : ''}`,
    ),
    `log errors: ${JSON.stringify(report.logs.errors)}`,
    `log warnings: ${JSON.stringify(report.logs.warnings)}`,
    `violations: ${report.violations.length}`,
    ...report.violations.slice(0, 30).map((v) => `  ${v.kind}: ${v.detail}`),
  ];
  return lines.join('\n');
}
