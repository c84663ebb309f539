import type { Callback } from './endpoints.js';
import type { RequestRecord } from './load.js';

/**
 * The total-queue check, after Jepsen's: what the clients were told is compared with what
 * happened. Every POST is one of
 *
 * - **acknowledged** (`202` with a `request_id`): must have exactly one persisted decision
 *   (the `GET` is not `pending`, and exactly one `request decided … applied: true` log line in
 *   all processes' logs) and at least one delivered callback with that `webhook-id`;
 * - **rejected** (any other status, e.g. `503`): nothing was stored, so no callback may come;
 *   bad input (see `bad-input.ts`) must be rejected with a `4xx` (or `503` while stopping),
 *   valid input only with `503`;
 * - **indeterminate** (no answer: reset, closed, timed out): it may or may not have been stored;
 *   a callback for it is neither lost nor unexpected, and is counted apart.
 *
 * Callbacks are matched to POSTs by the unique driver token in their body (request ids are the
 * server's). A callback is **unexpected** when its token was never sent, belongs to a rejected
 * POST, or belongs to an acknowledged POST but carries another `webhook-id`. **Duplicates** are
 * deliveries beyond the first per `webhook-id`; they are allowed (at-least-once) and counted.
 */

/** What the `GET` said about an acknowledged request after the drain. */
export interface SessionView {
  decision: string;
  callbackState: string;
  decidedAt: number | null;
}

export interface CheckInput {
  records: RequestRecord[];
  callbacks: Callback[];
  /** By request id; `null` when the `GET` answered 404. */
  sessions: Map<string, SessionView | null>;
  /** `request decided` lines with `applied: true`, per request id: the decisions logged. */
  applied: Map<string, string[]>;
  /** Lifetimes (start, SIGKILL) of worker-running incarnations the suite SIGKILLed. Their last
   * log lines may be lost with them (the commit comes before the log line, and pino writes
   * asynchronously), never their persisted rows. */
  workerKills: { startedAt: number; killedAt: number }[];
  expectedDecision: (token: string) => string;
}

export interface Violation {
  kind: string;
  detail: string;
}

export interface CheckResult {
  sent: number;
  acknowledged: number;
  rejected503: number;
  /** Valid POSTs answered with a status other than 202 or 503 (each one is a violation). */
  rejectedOther: number;
  /** Bad-input POSTs sent (see `badInput` for their answers). */
  badInputSent: number;
  indeterminate: number;
  /** Indeterminate POSTs by the client's error code (e.g. `UND_ERR_SOCKET`, `ECONNRESET`). */
  indeterminateErrors: Record<string, number>;
  /** Connection-refused attempts that were resent (never received by any server). */
  refusedAttempts: number;
  lost: number;
  /** The request ids of the lost ones, to tell which fault they met. */
  lostRequestIds: string[];
  unexpected: number;
  callbacks: number;
  duplicates: number;
  /** Indeterminate POSTs that were nevertheless stored and called back. */
  indeterminateCalledBack: number;
  /** Decisions without a log line, made while a process that was later SIGKILLed ran (see
   * `workerKills`); and the longest time from such a decision to that kill. */
  decidedUnlogged: number;
  decidedUnloggedMaxLagMs: number;
  decisions: Record<string, number>;
  /** Bad-input POSTs by kind and answer, e.g. `malformed-json 400`. */
  badInput: Record<string, number>;
  violations: Violation[];
}

function tally(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

type Flag = (kind: string, detail: string) => void;

/** Every callback is matched to the POST that carried its token. */
function checkCallbacks(input: CheckInput, flag: Flag) {
  const byToken = new Map(input.records.map((r) => [r.token, r]));
  let unexpected = 0;
  const calledBackIndeterminate = new Set<string>();
  const unexpectedCallback = (detail: string) => {
    unexpected += 1;
    flag('unexpected-callback', detail);
  };
  for (const callback of input.callbacks) {
    const id = callback.webhookId;
    if (!callback.signatureValid) flag('bad-signature', `webhook-id ${id}`);
    const record = callback.token === null ? undefined : byToken.get(callback.token);
    if (record === undefined) unexpectedCallback(`webhook-id ${id}: token never sent`);
    else if (record.outcome === 'rejected') {
      unexpectedCallback(`webhook-id ${id}: POST #${record.index} was answered ${record.status}`);
    } else if (record.outcome === 'acked' && record.requestId !== id) {
      unexpectedCallback(`webhook-id ${id} carries the token of request ${record.requestId}`);
    } else if (record.outcome === 'indeterminate') calledBackIndeterminate.add(record.token);
  }
  return { unexpected, indeterminateCalledBack: calledBackIndeterminate.size };
}

interface DecisionTally {
  decisions: Record<string, number>;
  decidedUnlogged: number;
  decidedUnloggedMaxLagMs: number;
}

/** What the store, the callbacks and the logs say about one acknowledged request; returns
 * what makes it lost (nothing when it is not). */
function checkAcknowledged(
  input: CheckInput,
  record: RequestRecord,
  delivered: Callback[],
  tallies: DecisionTally,
  flag: Flag,
): string[] {
  const id = record.requestId ?? '';
  const session = input.sessions.get(id);
  const problems: string[] = [];
  if (delivered.length === 0) problems.push('no callback delivered');
  if (session === undefined) return [...problems, 'GET not answered'];
  if (session === null) return [...problems, 'GET answered 404'];
  tally(tallies.decisions, session.decision);
  if (session.decision === 'pending') return [...problems, 'decision still pending'];
  if (session.callbackState !== 'delivered') problems.push(`callback ${session.callbackState}`);
  const expected = input.expectedDecision(record.token);
  if (session.decision !== expected && session.decision !== 'unknown') {
    flag('wrong-decision', `${id}: ${session.decision}, expected ${expected} or unknown`);
  }
  for (const callback of delivered.filter((c) => c.status !== session.decision)) {
    flag('callback-disagrees', `${id}: callback ${callback.status}, store ${session.decision}`);
  }
  const logged = input.applied.get(id) ?? [];
  if (logged.length > 1) flag('decided-twice', `${id}: ${logged.length} applied decisions`);
  if (logged.length === 1 && logged[0] !== session.decision) {
    flag('log-disagrees', `${id}: logged ${logged[0]}, stored ${session.decision}`);
  }
  if (logged.length === 0) {
    const at = session.decidedAt ?? 0;
    const killed = input.workerKills.filter((k) => k.startedAt <= at && at <= k.killedAt);
    if (killed.length === 0) flag('decision-not-logged', `${id}: persisted, never logged`);
    else {
      tallies.decidedUnlogged += 1;
      const lag = Math.min(...killed.map((k) => k.killedAt - at));
      tallies.decidedUnloggedMaxLagMs = Math.max(tallies.decidedUnloggedMaxLagMs, lag);
    }
  }
  return problems;
}

/** Valid input is answered 202 or 503; bad input 4xx (or 503). Returns bad input by kind and
 * answer. */
function checkAnswers(records: RequestRecord[], flag: Flag): Record<string, number> {
  const badInput: Record<string, number> = {};
  for (const record of records) {
    if (record.bad !== undefined) {
      tally(badInput, `${record.bad} ${record.status ?? record.error}`);
      // A 503 is fine too: a stopping server answers it before looking at the body.
      const status = record.status ?? 0;
      const refused = (status >= 400 && status < 500) || status === 503;
      if (record.outcome !== 'indeterminate' && !refused) {
        flag('bad-input', `POST #${record.index} (${record.bad}) answered ${record.status}`);
      }
    } else if (record.outcome === 'rejected' && record.status !== 503) {
      flag('bad-status', `POST #${record.index} answered ${record.status} ${record.code ?? ''}`);
    }
  }
  return badInput;
}

export function check(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const flag: Flag = (kind, detail) => violations.push({ kind, detail });
  const byWebhook = new Map<string, Callback[]>();
  for (const callback of input.callbacks) {
    byWebhook.set(callback.webhookId, [...(byWebhook.get(callback.webhookId) ?? []), callback]);
  }
  for (const [id, list] of byWebhook) {
    if (new Set(list.map((c) => c.body)).size > 1) {
      flag('conflicting-duplicates', `webhook-id ${id} was delivered with different bodies`);
    }
  }
  const callbacks = checkCallbacks(input, flag);

  const tallies: DecisionTally = { decisions: {}, decidedUnlogged: 0, decidedUnloggedMaxLagMs: 0 };
  const acked = input.records.filter((r) => r.outcome === 'acked' && r.bad === undefined);
  const lostRequestIds: string[] = [];
  for (const record of acked) {
    const delivered = byWebhook.get(record.requestId ?? '') ?? [];
    const problems = checkAcknowledged(input, record, delivered, tallies, flag);
    if (problems.length > 0) {
      lostRequestIds.push(record.requestId ?? '');
      flag('lost', `${record.requestId} (POST #${record.index}): ${problems.join(', ')}`);
    }
  }

  const indeterminateErrors: Record<string, number> = {};
  for (const record of input.records) {
    if (record.outcome === 'indeterminate') tally(indeterminateErrors, record.error ?? 'unknown');
  }
  const badInput = checkAnswers(input.records, flag);
  return {
    sent: input.records.length,
    acknowledged: acked.length,
    rejected503: input.records.filter((r) => r.status === 503).length,
    rejectedOther: input.records.filter(
      (r) => r.outcome === 'rejected' && r.status !== 503 && r.bad === undefined,
    ).length,
    badInputSent: input.records.filter((r) => r.bad !== undefined).length,
    indeterminate: input.records.filter((r) => r.outcome === 'indeterminate').length,
    indeterminateErrors,
    refusedAttempts: input.records.reduce((sum, r) => sum + r.refused, 0),
    lost: lostRequestIds.length,
    lostRequestIds,
    unexpected: callbacks.unexpected,
    callbacks: input.callbacks.length,
    duplicates: input.callbacks.length - byWebhook.size,
    indeterminateCalledBack: callbacks.indeterminateCalledBack,
    ...tallies,
    badInput,
    violations,
  };
}
