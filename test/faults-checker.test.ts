import { describe, expect, it } from 'vitest';
import { check, type CheckInput, type SessionView } from '../faults/checker.js';
import type { Callback } from '../faults/endpoints.js';
import type { RequestRecord } from '../faults/load.js';

/**
 * The fault suite's verdict (`faults/checker.ts`) must be able to fail: these cases feed it
 * histories with a lost request, an unexpected callback, a double decision, and check that it
 * says so, and that it tolerates what at-least-once allows (duplicates, indeterminate POSTs).
 */

function post(index: number, outcome: RequestRecord['outcome'], status?: number): RequestRecord {
  return {
    index,
    token: `FLT-A-token-of-request-number-${String(index).padStart(2, '0')}`,
    target: 'http://127.0.0.1:1',
    sentAt: 1_000,
    firstSentAt: 1_000,
    doneAt: 1_010,
    outcome,
    refused: 0,
    ...(status === undefined ? {} : { status }),
    ...(outcome === 'acked' ? { requestId: `request-${index}` } : {}),
  };
}

function callback(record: RequestRecord, webhookId = `request-${record.index}`): Callback {
  return {
    webhookId,
    receivedAt: 2_000,
    signatureValid: true,
    token: record.token,
    status: 'allowed',
    stationId: 'station',
    body: JSON.stringify({ driver_token: record.token, status: 'allowed' }),
  };
}

const decided: SessionView = { decision: 'allowed', callbackState: 'delivered', decidedAt: 1_500 };

function history(overrides: Partial<CheckInput> = {}): CheckInput {
  const acked = post(1, 'acked', 202);
  return {
    records: [acked],
    callbacks: [callback(acked)],
    sessions: new Map([['request-1', decided]]),
    applied: new Map([['request-1', ['allowed']]]),
    workerKills: [],
    expectedDecision: () => 'allowed',
    ...overrides,
  };
}

describe('the fault suite checker', () => {
  it('passes a history where every acknowledged request is decided once and called back', () => {
    const result = check(history());
    expect(result).toMatchObject({ acknowledged: 1, lost: 0, unexpected: 0, duplicates: 0 });
    expect(result.violations).toEqual([]);
  });

  it('counts an acknowledged request without a callback as lost', () => {
    const result = check(history({ callbacks: [] }));
    expect(result.lost).toBe(1);
    expect(result.violations.map((v) => v.kind)).toContain('lost');
  });

  it('counts an acknowledged request still pending in the store as lost', () => {
    const pending = { ...decided, decision: 'pending', callbackState: 'pending' };
    expect(check(history({ sessions: new Map([['request-1', pending]]) })).lost).toBe(1);
  });

  it('calls a callback for a POST answered 503 unexpected', () => {
    const rejected = post(2, 'rejected', 503);
    const base = history();
    const result = check({
      ...base,
      records: [...base.records, rejected],
      callbacks: [...base.callbacks, callback(rejected, 'request-2')],
    });
    expect(result.unexpected).toBe(1);
  });

  it('neither loses nor objects to a callback for an indeterminate POST, and counts it apart', () => {
    const unknown = post(3, 'indeterminate');
    const base = history();
    const result = check({
      ...base,
      records: [...base.records, unknown],
      callbacks: [...base.callbacks, callback(unknown, 'request-3')],
    });
    expect(result).toMatchObject({ lost: 0, unexpected: 0, indeterminateCalledBack: 1 });
    expect(result.violations).toEqual([]);
  });

  it('counts a second delivery with the same webhook-id as a duplicate, not a violation', () => {
    const base = history();
    const result = check({ ...base, callbacks: [...base.callbacks, ...base.callbacks] });
    expect(result.duplicates).toBe(1);
    expect(result.violations).toEqual([]);
  });

  it('flags a request decided twice', () => {
    const result = check(history({ applied: new Map([['request-1', ['allowed', 'allowed']]]) }));
    expect(result.violations.map((v) => v.kind)).toContain('decided-twice');
  });

  it('accepts a missing decision log line only from a process killed after the decision', () => {
    const unlogged = history({ applied: new Map() });
    expect(check(unlogged).violations.map((v) => v.kind)).toContain('decision-not-logged');
    const killed = check({ ...unlogged, workerKills: [{ startedAt: 0, killedAt: 1_600 }] });
    expect(killed).toMatchObject({ decidedUnlogged: 1, decidedUnloggedMaxLagMs: 100 });
    expect(killed.violations).toEqual([]);
  });
});

describe('the fault suite privacy scan', () => {
  it('finds a sent token whole, without its prefix, and inside a longer word, but no other', async () => {
    const { TokenFinder } = await import('../faults/privacy.js');
    const token = 'FLT-A-abcdefghijklmnopqrstuvwx';
    const finder = new TokenFinder([token]);
    expect(finder.find(`{"msg":"x","driver_token":"${token}"}`).size).toBe(1);
    expect(finder.find('payload=abcdefghijklmnopqrstuvwx;').size).toBe(1);
    expect(finder.find('zzabcdefghijklmnopqrstuvwxzz').size).toBe(1);
    expect(finder.find('FLT-A-abcdefghijklmnopqrstuvwy and [redacted]').size).toBe(0);
  });
});
