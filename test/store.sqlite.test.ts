import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/store/sqlite.js';
import { storeContract } from './contract/store.contract.js';

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

  it('refuses a file written by a newer schema version', () => {
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => createSqliteStore({ file })).toThrow(/store schema 99/);
  });
});
