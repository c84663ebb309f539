import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/store/sqlite.js';
import { storeContract } from './contract/store.contract.js';
import { fixture } from './helpers/fixtures.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'chargegate-store-'));

storeContract('SQLite', () => {
  const dir = tempDir();
  const store = createSqliteStore({ file: join(dir, 'store.db') });
  const cleanup = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return Promise.resolve({ store, cleanup });
});

describe('SQLite store file', () => {
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir();
    file = join(dir, 'store.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps sessions, decisions and attempts across closing and reopening the file', async () => {
    const requestId = randomUUID();
    const first = createSqliteStore({ file });
    await first.createSession({
      requestId,
      stationId: randomUUID(),
      tokenHash: 'b'.repeat(64),
      callbackUrl: 'https://client.example/cb',
      acceptedAt: 1_000,
      idempotencyKey: 'persisted',
      requestHash: 'h',
    });
    await first.recordDecision(requestId, {
      decision: 'invalid',
      reason: 'unknown_token',
      authLatencyMs: 4.6,
      decidedAt: 1_010,
    });
    const attempt = {
      attempt: 1,
      startedAt: 1_020,
      durationMs: 30.2,
      statusCode: 200,
      error: null,
      responseSnippet: 'ok',
    };
    await first.recordCallbackAttempt(requestId, attempt, { state: 'delivered', at: 1_050 });
    await first.close();

    const reopened = createSqliteStore({ file, synchronous: 'full' });
    try {
      expect(await reopened.findByIdempotencyKey('persisted')).toEqual({
        requestId,
        requestHash: 'h',
      });
      expect(await reopened.getSession(requestId)).toMatchObject({
        decision: 'invalid',
        authLatencyMs: 5,
        callback: { state: 'delivered', attempts: 1, deliveredAt: 1_050 },
      });
      expect(await reopened.listCallbackAttempts(requestId)).toEqual([
        { ...attempt, durationMs: 30 },
      ]);
    } finally {
      await reopened.close();
    }
  });

  it('upgrades a version 1 file: its decisions came from the service, its pending ones wait', async () => {
    const raw = new Database(file);
    raw.exec(fixture('store-sqlite-schema-1.sql'));
    const insert = raw.prepare(
      `INSERT INTO sessions (request_id, station_id, token_hash, callback_url, accepted_at,
         decision, reason) VALUES (?, 's', 'h', 'https://client.example/cb', 1, ?, ?)`,
    );
    const [decided, pending] = [randomUUID(), randomUUID()];
    insert.run(decided, 'allowed', 'active');
    insert.run(pending, 'pending', null);
    raw.pragma('user_version = 1');
    raw.close();

    const store = createSqliteStore({ file });
    try {
      expect(await store.getSession(decided)).toMatchObject({
        decision: 'allowed',
        decisionSource: 'service',
        details: { authorizationReference: null, allowedEvses: null, displayText: null },
      });
      expect((await store.getSession(pending))?.decisionSource).toBeNull();
      const details = { authorizationReference: 'r', allowedEvses: ['E1'], displayText: null };
      await store.recordDecision(pending, {
        decision: 'allowed',
        reason: 'active',
        authLatencyMs: 1,
        decidedAt: 2,
        source: 'cache',
        details,
      });
      expect(await store.getSession(pending)).toMatchObject({ decisionSource: 'cache', details });
    } finally {
      await store.close();
    }
  });

  it('migrates a schema 1 file: its sessions kept, the history indexed', async () => {
    const raw = new Database(file);
    raw.exec(fixture('store-sqlite-schema-1.sql'));
    raw.exec(`INSERT INTO sessions (request_id, station_id, token_hash, callback_url, accepted_at)
      VALUES ('old', 'station', 'hash', 'https://client.example/cb', 5000);
    PRAGMA user_version = 1;`);
    raw.close();
    const store = createSqliteStore({ file });
    try {
      expect(await store.getSession('old')).toMatchObject({ acceptedAt: 5_000, acceptMs: null });
      const history = await store.history({ from: 0, to: 10_000, bucketMs: 10_000 });
      expect(history.buckets[0]).toMatchObject({ accepted: 1, backlog: 1 });
    } finally {
      await store.close();
    }
    const check = new Database(file, { readonly: true });
    const plan = check
      .prepare(
        `EXPLAIN QUERY PLAN SELECT count(*) FROM sessions WHERE decided_at >= 1 AND decided_at < 2`,
      )
      .all() as { detail: string }[];
    check.close();
    expect(plan.map((row) => row.detail).join('\n')).toMatch(/COVERING INDEX sessions_decided/);
  });

  it('refuses a file written by a newer schema version', () => {
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => createSqliteStore({ file })).toThrow(/store schema 99/);
  });
});
