import type { Callback } from './endpoints.js';
import { firstCallbacks, recoveryAfter, recoveryMs, windows } from './fault-checks.js';
import type { RequestRecord } from './load.js';
import type { FaultRecord } from './scenarios.js';

/** Per fault type, what the clients saw during it and after it, for the report. */
export interface FaultSummary {
  injections: number;
  heldMs: number;
  /** POSTs sent while a fault of this type was held, by outcome. */
  sent: number;
  acked: number;
  rejected503: number;
  indeterminate: number;
  /** Acknowledged POSTs first sent from the fault's start to the next fault's, then lost. */
  lost: number;
  /** Deliveries beyond the first per `webhook-id` received from its start to the next's. */
  duplicates: number;
  /** The longest time to recover after healing (see `fault-checks.ts`); null: one never did. */
  recoveryMs: number | null;
  /** Time to the answer of the valid POSTs sent during the fault (answered ones). */
  answerMs?: { p50: number; max: number };
}

export function summarize(
  faults: FaultRecord[],
  records: RequestRecord[],
  callbacks: Callback[],
  lostIds: string[],
): Record<string, FaultSummary> {
  const summary: Record<string, FaultSummary> = {};
  /** Per type: how long valid POSTs sent during the fault waited for their answer. */
  const answers = new Map<string, number[]>();
  const first = firstCallbacks(callbacks);
  const lost = new Set(lostIds);
  const seen = new Set<string>();
  const duplicateAt = callbacks
    .filter((c) => seen.has(c.webhookId) || !seen.add(c.webhookId))
    .map((c) => c.receivedAt);
  for (const { fault, until } of windows(faults)) {
    const s = (summary[fault.type] ??= {
      injections: 0,
      heldMs: 0,
      sent: 0,
      acked: 0,
      rejected503: 0,
      indeterminate: 0,
      lost: 0,
      duplicates: 0,
      recoveryMs: 0,
    });
    s.injections += 1;
    s.heldMs += fault.healedAt - fault.startedAt;
    const inWindow = (at: number) => at >= fault.startedAt && at < until;
    s.lost += records.filter((r) => inWindow(r.firstSentAt) && lost.has(r.requestId ?? '')).length;
    s.duplicates += duplicateAt.filter(inWindow).length;
    const healedAt = fault.outage?.upAt ?? fault.healedAt;
    const recovered = recoveryMs(recoveryAfter(healedAt, until, records, first));
    s.recoveryMs =
      recovered === null || s.recoveryMs === null ? null : Math.max(s.recoveryMs, recovered);
    for (const r of records) {
      if (r.firstSentAt < fault.startedAt || r.firstSentAt > fault.healedAt) continue;
      s.sent += 1;
      if (r.outcome === 'acked') s.acked += 1;
      if (r.status === 503) s.rejected503 += 1;
      if (r.outcome === 'indeterminate') s.indeterminate += 1;
      if (r.bad === undefined && r.status !== undefined) {
        const times = answers.get(fault.type) ?? [];
        times.push(r.doneAt - r.sentAt);
        answers.set(fault.type, times);
      }
    }
  }
  for (const [type, times] of answers) {
    const s = summary[type];
    if (s === undefined) continue;
    times.sort((a, b) => a - b);
    s.answerMs = { p50: times[times.length >> 1] ?? 0, max: times.at(-1) ?? 0 };
  }
  return summary;
}
