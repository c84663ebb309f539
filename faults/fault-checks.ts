import type { Violation } from './checker.js';
import type { Callback } from './endpoints.js';
import type { RequestRecord } from './load.js';
import type { FaultRecord } from './scenarios.js';

/**
 * What each fault must look like from the clients' side, beyond the checker's totals:
 *
 * - while PostgreSQL is down (`postgres-*`), a POST is answered `503` within a second, and
 *   after it returns everything works again within 5 s;
 * - while a store is paused or black-holed (`pause-redis`, `pause-postgres`,
 *   `blackhole-redis`, `blackhole-postgres`) or the disk is full (`disk-full`), a POST is
 *   answered (`202` or `503`) within 2 s: a stalled dependency must not stall the API;
 * - after every fault, the time to recover is measured (and reported): until a POST sent after
 *   the healing is acknowledged, with none refused after it, and until the first callback for
 *   such a POST arrives (everything queued during the fault went ahead of it).
 */

/** The bound for an answer while PostgreSQL is down. */
export const DOWN_ANSWER_MS = 1_000;
/** The promised bound for an answer while a store stalls (2 s), plus half a second for a busy
 * two-core machine, where the client's own timestamps lag. */
export const STALLED_ANSWER_MS = 2_500;
/** After the database (or the disk space) returns, everything works again within this. */
export const RECOVERY_MS = 5_000;

const STALLING = new Set([
  'pause-redis',
  'pause-postgres',
  'blackhole-redis',
  'blackhole-postgres',
]);

export interface Recovery {
  /** From the healing to the first `202` after which no POST was refused; null: never. */
  acceptMs: number | null;
  /** From the healing to the first callback of a POST sent after it; null: none came. */
  decideMs: number | null;
}

const valid = (r: RequestRecord) => r.bad === undefined;

/** Recovery after `healedAt`, looking at POSTs sent before `until` (the next fault). */
export function recoveryAfter(
  healedAt: number,
  until: number,
  records: RequestRecord[],
  firstCallbackAt: Map<string, number>,
): Recovery {
  // Answered before the next fault began: a POST in flight when it struck tells of that one.
  const after = records
    .filter(
      (r) => valid(r) && r.firstSentAt >= healedAt && r.doneAt < until && r.firstSentAt < until,
    )
    .sort((a, b) => a.firstSentAt - b.firstSentAt);
  let lastFailure = -1;
  after.forEach((r, i) => {
    if (r.outcome !== 'acked') lastFailure = i;
  });
  const firstGood = after.slice(lastFailure + 1).find((r) => r.outcome === 'acked');
  let decidedAt = Number.POSITIVE_INFINITY;
  for (const r of after) {
    const at = r.outcome === 'acked' ? firstCallbackAt.get(r.requestId ?? '') : undefined;
    if (at !== undefined) decidedAt = Math.min(decidedAt, at);
  }
  return {
    acceptMs: firstGood === undefined ? null : firstGood.doneAt - healedAt,
    decideMs: Number.isFinite(decidedAt) ? decidedAt - healedAt : null,
  };
}

export function recoveryMs(recovery: Recovery): number | null {
  if (recovery.acceptMs === null || recovery.decideMs === null) return null;
  return Math.max(recovery.acceptMs, recovery.decideMs);
}

/** POSTs of valid input sent in [from, to) that were not answered within `limitMs`. */
function slowAnswers(records: RequestRecord[], from: number, to: number, limitMs: number) {
  const sent = records.filter((r) => valid(r) && r.sentAt >= from && r.sentAt < to);
  const slow = sent.filter((r) => r.outcome === 'indeterminate' || r.doneAt - r.sentAt > limitMs);
  const longest = Math.max(0, ...sent.map((r) => r.doneAt - r.sentAt));
  return { sent: sent.length, slow, longest };
}

function describeSlow(
  fault: FaultRecord,
  what: string,
  found: ReturnType<typeof slowAnswers>,
  limitMs: number,
): Violation {
  const cut = found.slow.filter((r) => r.outcome === 'indeterminate').length;
  return {
    kind: `${fault.type}-slow-answer`,
    detail:
      `${fault.target}: ${found.slow.length} of ${found.sent} POSTs sent while ${what} were not ` +
      `answered within ${limitMs} ms (longest ${found.longest} ms; ${cut} never answered)`,
  };
}

/** A database outage (or a full disk): quick refusals while down, recovery once back. */
function checkOutage(
  fault: FaultRecord,
  until: number,
  records: RequestRecord[],
  firstCallbackAt: Map<string, number>,
  answerMs: number,
): Violation[] {
  const outage = fault.outage;
  if (outage === undefined) return [];
  const violations: Violation[] = [];
  const down = slowAnswers(records, outage.downAt, outage.upAt, answerMs);
  if (down.slow.length > 0) violations.push(describeSlow(fault, 'it was down', down, answerMs));
  const early = records.filter(
    (r) => valid(r) && r.sentAt >= outage.downAt && r.status === 202 && r.doneAt < outage.upAt,
  );
  if (fault.type.startsWith('postgres') && early.length > 0) {
    violations.push({
      kind: `${fault.type}-accepted-while-down`,
      detail: `${early.length} POSTs acknowledged while the store was down`,
    });
  }
  const recovery = recoveryAfter(outage.upAt, until, records, firstCallbackAt);
  const ms = recoveryMs(recovery);
  if (ms === null || ms > RECOVERY_MS) {
    violations.push({
      kind: `${fault.type}-slow-recovery`,
      detail: `${fault.target}: accepting again after ${recovery.acceptMs ?? 'never'} ms, first callback after ${recovery.decideMs ?? 'never'} ms (limit ${RECOVERY_MS} ms)`,
    });
  }
  const late = records.filter(
    (r) =>
      valid(r) &&
      r.sentAt >= outage.upAt + RECOVERY_MS &&
      r.doneAt < until &&
      r.outcome !== 'acked',
  );
  if (late.length > 0) {
    violations.push({
      kind: `${fault.type}-slow-recovery`,
      detail: `${late.length} POSTs sent more than ${RECOVERY_MS} ms after the return were not acknowledged`,
    });
  }
  return violations;
}

/** While the disk is full, POSTs are refused with a problem document, and some must be:
 * otherwise the fault did not bite and proved nothing. */
function checkRefusals(fault: FaultRecord, records: RequestRecord[]): Violation[] {
  const outage = fault.outage;
  if (outage === undefined) return [];
  const during = records.filter(
    (r) => valid(r) && r.sentAt >= outage.downAt && r.sentAt < outage.upAt,
  );
  const refused = during.filter((r) => r.status === 503);
  const bare = refused.filter(
    (r) => r.code === undefined || !(r.contentType ?? '').startsWith('application/problem+json'),
  );
  const violations: Violation[] = [];
  if (refused.length === 0) {
    violations.push({
      kind: 'disk-full-not-refused',
      detail: `none of ${during.length} POSTs sent while the disk was full got a 503`,
    });
  }
  if (bare.length > 0) {
    violations.push({
      kind: 'disk-full-not-a-problem-document',
      detail: `${bare.length} of ${refused.length} 503s were not a problem document with a code`,
    });
  }
  return violations;
}

/** The first delivery of each `webhook-id`. */
export function firstCallbacks(callbacks: Callback[]): Map<string, number> {
  const first = new Map<string, number>();
  for (const c of callbacks) {
    const seen = first.get(c.webhookId);
    if (seen === undefined || c.receivedAt < seen) first.set(c.webhookId, c.receivedAt);
  }
  return first;
}

/** Each fault's window: from its start to the next one's (or the end of the run). */
export function windows(faults: FaultRecord[]): { fault: FaultRecord; until: number }[] {
  const sorted = [...faults].sort((a, b) => a.startedAt - b.startedAt);
  return sorted.map((fault, i) => ({
    fault,
    until: sorted[i + 1]?.startedAt ?? Number.POSITIVE_INFINITY,
  }));
}

export function checkFaults(
  faults: FaultRecord[],
  records: RequestRecord[],
  callbacks: Callback[],
): Violation[] {
  const first = firstCallbacks(callbacks);
  const violations: Violation[] = [];
  for (const { fault, until } of windows(faults)) {
    if (fault.type.startsWith('postgres-')) {
      violations.push(...checkOutage(fault, until, records, first, DOWN_ANSWER_MS));
    } else if (fault.type === 'disk-full') {
      violations.push(...checkOutage(fault, until, records, first, STALLED_ANSWER_MS));
      violations.push(...checkRefusals(fault, records));
    } else if (STALLING.has(fault.type)) {
      // POSTs sent in the last moments of the stall may be answered after it: not counted.
      const found = slowAnswers(
        records,
        fault.startedAt,
        fault.healedAt - STALLED_ANSWER_MS,
        STALLED_ANSWER_MS,
      );
      if (found.slow.length > 0) {
        violations.push(describeSlow(fault, 'it stalled', found, STALLED_ANSWER_MS));
      }
    }
  }
  return violations;
}
