import { readFileSync } from 'node:fs';
import type { Violation } from './checker.js';
import type { Cluster } from './cluster.js';
import type { RequestRecord } from './load.js';
import { jsonLines } from './processes.js';
import type { FaultRecord } from './scenarios.js';

/** What one SIGTERM under load did, from the clients' side and from the process's log. */
export interface ShutdownSummary {
  target: string;
  exitCode: number | null;
  exitAfterMs: number | null;
  /** POSTs to the process that were in flight when the signal was sent, by answer. */
  inFlightAtSignal: Record<string, number>;
  /** POSTs that reached the process while it was stopping, by answer. */
  duringShutdown: Record<string, number>;
  /** Work the process finished after it logged `stopping`: decisions and callbacks. */
  decidedWhileStopping: number;
  deliveredWhileStopping: number;
}

function answerOf(record: RequestRecord): string {
  return record.outcome === 'indeterminate' ? `error ${record.error}` : String(record.status);
}

function tally(records: RequestRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) counts[answerOf(record)] = (counts[answerOf(record)] ?? 0) + 1;
  return counts;
}

/**
 * Summarizes each SIGTERM fault. A request that was in flight at the signal must be answered
 * (202, or 503 if it had not been accepted yet), never cut; the process must have finished the
 * authorization calls and callbacks it held (it logs them after `stopping`).
 */
export function summarizeShutdowns(
  cluster: Cluster,
  faults: FaultRecord[],
  records: RequestRecord[],
): { summaries: ShutdownSummary[]; violations: Violation[] } {
  const summaries: ShutdownSummary[] = [];
  const violations: Violation[] = [];
  for (const fault of faults) {
    const signalAt = fault.signalAt;
    const process = cluster.processes.find((p) => p.name === fault.target);
    if (signalAt === undefined || process === undefined) continue;
    const incarnation = process.incarnations.find(
      (i) => i.signalled?.signal === 'SIGTERM' && Math.abs(i.signalled.at - signalAt) < 1_000,
    );
    if (incarnation === undefined) continue;
    const exitAt = incarnation.exit?.at ?? Number.POSITIVE_INFINITY;
    const mine = records.filter((r) => r.target === process.url && r.doneAt >= signalAt);
    const inFlight = mine.filter((r) => r.sentAt < signalAt);
    const during = mine.filter((r) => r.sentAt >= signalAt && r.sentAt <= exitAt);
    let stopping = false;
    let decided = 0;
    let delivered = 0;
    for (const line of jsonLines(readFileSync(incarnation.logFile, 'utf8'))) {
      const msg = String(line['msg']);
      if (msg.startsWith('stopping')) stopping = true;
      if (stopping && msg === 'request decided') decided += 1;
      if (stopping && msg === 'callback delivered') delivered += 1;
    }
    summaries.push({
      target: fault.target,
      exitCode: incarnation.exit?.code ?? null,
      exitAfterMs: fault.exit?.afterMs ?? null,
      inFlightAtSignal: tally(inFlight),
      duringShutdown: tally(during),
      decidedWhileStopping: decided,
      deliveredWhileStopping: delivered,
    });
    for (const record of inFlight.filter((r) => r.outcome === 'indeterminate')) {
      violations.push({
        kind: 'sigterm-cut-request',
        detail: `${fault.target}: POST #${record.index} in flight at SIGTERM got ${record.error}`,
      });
    }
  }
  return { summaries, violations };
}
