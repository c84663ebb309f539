import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import type { SqliteQueue, SqliteQueueOptions } from '../src/queue/sqlite.js';
import type { Topic } from '../src/queue/port.js';
import { queueContract } from './contract/queue.contract.js';
import { damagePayload } from './helpers/sqlite-damage.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'chargegate-queue-'));

queueContract('SQLite', () => {
  const dir = tempDir();
  const file = join(dir, 'queue.db');
  const queue = createSqliteQueue({ file });
  const cleanup = async () => {
    await queue.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const publishRaw = async (topic: Topic, key: string, text: string) => {
    await queue.publish(topic, key, null);
    damagePayload(file, 'messages', topic, key, text);
  };
  return Promise.resolve({ queue, cleanup, publishRaw });
});

describe('SQLite queue file', () => {
  let dir: string;
  let file: string;
  const opened: SqliteQueue[] = [];
  const open = (options: Partial<SqliteQueueOptions> = {}) => {
    const queue = createSqliteQueue({ file, ...options });
    opened.push(queue);
    return queue;
  };

  beforeEach(() => {
    dir = tempDir();
    file = join(dir, 'queue.db');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((queue) => queue.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('never leases one message to two instances sharing the file', async () => {
    const [a, b] = [open(), open()];
    const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    for (const key of keys) await a.publish('requests', key, { key });
    const seen = new Map<string, number>();
    const perInstance = new Map<SqliteQueue, number>();
    const drain = async (queue: SqliteQueue) => {
      for (;;) {
        const batch = await queue.receive('requests', { max: 7, leaseMs: 60_000, waitMs: 0 });
        if (batch.length === 0) return;
        perInstance.set(queue, (perInstance.get(queue) ?? 0) + batch.length);
        for (const delivery of batch) {
          seen.set(delivery.key, (seen.get(delivery.key) ?? 0) + 1);
          expect(await queue.ack('requests', delivery)).toBe(true);
        }
      }
    };
    await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
    expect([...seen.keys()].sort()).toEqual(keys);
    expect([...seen.values()].filter((count) => count !== 1)).toEqual([]);
    expect(perInstance.get(a)).toBeGreaterThan(0);
    expect(perInstance.get(b)).toBeGreaterThan(0);
    expect(await b.depth('requests')).toBe(0);
  });

  it('wakes a receive waiting on one instance when another instance publishes', async () => {
    const [receiver, publisher] = [open({ pollIntervalMs: 20 }), open()];
    const started = Date.now();
    const waiting = receiver.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 10_000 });
    await publisher.publish('requests', 'from-elsewhere', {});
    expect((await waiting).map((delivery) => delivery.key)).toEqual(['from-elsewhere']);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('wakes a receive waiting in the same process at once, not at the next poll', async () => {
    const queue = open({ pollIntervalMs: 60_000 });
    const started = Date.now();
    const waiting = queue.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 10_000 });
    await queue.publish('requests', 'local', {});
    expect((await waiting).map((delivery) => delivery.key)).toEqual(['local']);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('resolves a waiting receive at close, not at the next poll', async () => {
    const queue = open({ pollIntervalMs: 60_000 });
    const started = Date.now();
    const waiting = queue.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 10_000 });
    await queue.close();
    expect(await waiting).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('keeps messages and dead letters across closing and reopening the file', async () => {
    const first = open();
    await first.publish('requests', 'doomed', { n: 1 });
    const [doomed] = await first.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 0 });
    if (!doomed) throw new Error('expected a message');
    await first.deadLetter('requests', doomed, 'test');
    await first.publish('requests', 'kept', { n: 2 });
    await first.close();

    const reopened = open({ synchronous: 'full' });
    expect(await reopened.depth('requests')).toBe(1);
    expect(await reopened.deadLetterCount('requests')).toBe(1);
    const [kept] = await reopened.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 0 });
    expect(kept).toMatchObject({ key: 'kept', payload: { n: 2 }, attempt: 0 });
  });

  it('creates the directory of its file', async () => {
    file = join(dir, 'nested', 'deeper', 'queue.db');
    await open().publish('requests', 'k', {});
    expect(await open().depth('requests')).toBe(1);
  });

  it('refuses a file written by a newer schema version', () => {
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => open()).toThrow(/queue schema 99/);
  });
});
