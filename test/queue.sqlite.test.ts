import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import type { SqliteQueue, SqliteQueueOptions } from '../src/queue/sqlite.js';
import type { Topic } from '../src/queue/port.js';
import { queueContract } from './contract/queue.contract.js';
import { damagePayload } from './helpers/sqlite-damage.js';
import { waitFor } from './helpers/wait.js';
import { fixture } from './helpers/fixtures.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'chargegate-queue-'));

/** A worker thread that opens the queue file, publishes one message, and closes when told. */
const PUBLISH_FROM_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(async ({ createSqliteQueue }) => {
  const queue = createSqliteQueue({ file: workerData.file, pollIntervalMs: 60000 });
  await queue.publish('requests', 'from-a-thread', {});
  parentPort.postMessage('published');
  parentPort.once('message', () => void queue.close().then(() => parentPort.close()));
});
`;

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

  it('wakes a receive waiting in one thread when another thread publishes, long before its poll', async () => {
    const queue = open({ pollIntervalMs: 60_000 });
    const waiting = queue.receive('requests', { max: 1, leaseMs: 60_000, waitMs: 30_000 });
    // The built adapter, as `start`'s worker threads load it.
    const publisher = new Worker(PUBLISH_FROM_THREAD, {
      eval: true,
      workerData: { module: new URL('../dist/queue/sqlite.js', import.meta.url).href, file },
    });
    const published = new Promise((resolve, reject) => {
      publisher.once('message', resolve);
      publisher.once('error', reject);
    });
    expect((await waiting).map((delivery) => delivery.key)).toEqual(['from-a-thread']);
    await published;
    publisher.postMessage('close');
    await new Promise((resolve) => publisher.once('exit', resolve));
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

  it('reuses the id of an acked newest message, and a stale delivery never touches the new one', async () => {
    const queue = open();
    const lease = { max: 1, leaseMs: 60_000, waitMs: 0 };
    await queue.publish('requests', 'first', { n: 1 });
    const [first] = await queue.receive('requests', lease);
    if (!first) throw new Error('expected the first message');
    expect(await queue.ack('requests', first)).toBe(true);
    await queue.publish('requests', 'second', { n: 2 });
    const [second] = await queue.receive('requests', { ...lease, leaseMs: 1 });
    // Leased for 1 ms, then ready again: the stale delivery meets the row leased or not.
    expect(second).toMatchObject({ id: first.id, key: 'second' });
    const next = { topic: 'callbacks' as const, key: 'first', payload: {} };
    expect(await queue.ack('requests', first)).toBe(false);
    expect(await queue.retry('requests', first, 0)).toBe(false);
    expect(await queue.release('requests', first, 0)).toBe(false);
    expect(await queue.deadLetter('requests', first, 'stale')).toBe(false);
    expect(await queue.handOff('requests', first, next)).toBe(false);
    const [again] = await waitFor(
      async () => {
        const batch = await queue.receive('requests', lease);
        return batch.length > 0 && batch;
      },
      { message: 'the second message, its lease over' },
    );
    expect(again).toMatchObject({ id: first.id, key: 'second', payload: { n: 2 }, attempt: 0 });
    expect(await queue.depth('callbacks')).toBe(0);
    expect(await queue.deadLetterCount('requests')).toBe(0);
  });

  it('migrates a file of schema 1, keeping every message, lease and dead letter', async () => {
    const raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    raw.exec(fixture('queue-sqlite-schema-1.sql'));
    const now = Date.now();
    const insert = raw.prepare(
      `INSERT INTO messages (id, topic, key, payload, attempt, published_at, available_at,
         lease_until, lease_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    insert.run(40, 'callbacks', 'cb', '{"n":0}', 2, now - 9_000, now, null, null);
    insert.run(41, 'requests', 'ready', '{"n":1}', 1, now - 5_000, now - 1_000, null, null);
    const leaseUntil = now + 60_000;
    insert.run(42, 'requests', 'leased', '{"n":2}', 0, now - 4_000, leaseUntil, leaseUntil, 'L');
    insert.run(43, 'requests', 'later', '{"n":3}', 0, now - 3_000, now + 60_000, null, null);
    raw
      .prepare(
        `INSERT INTO dead_letters (id, topic, key, payload, attempt, published_at,
           dead_lettered_at, reason) VALUES (?, 'callbacks', ?, '{}', 5, ?, ?, 'gone')`,
      )
      .run(9, 'dead', now - 8_000, now - 7_000);
    raw.pragma('user_version = 1');
    raw.close();

    const queue = open();
    const migrated = new Database(file, { readonly: true });
    const objects = migrated
      .prepare<[], { name: string; sql: string }>(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'messages'",
      )
      .all();
    const sequences = migrated.prepare('SELECT name, seq FROM sqlite_sequence').all();
    const version = migrated.pragma('user_version', { simple: true });
    migrated.close();
    expect(version).toBe(2);
    expect(objects.map((o) => o.name).sort()).toEqual(['messages', 'messages_ready']);
    const table = objects.find((o) => o.name === 'messages')?.sql;
    expect(table).not.toMatch(/AUTOINCREMENT/);
    expect(table).toMatch(/\) STRICT$/);
    expect(sequences).toEqual([{ name: 'dead_letters', seq: 9 }]);

    expect(await queue.depth('requests')).toBe(3);
    expect(await queue.depth('callbacks')).toBe(1);
    // The oldest of each topic by its own publish time, not the other topic's.
    const requestsAge = await queue.oldestAgeMs('requests');
    expect(requestsAge).toBeGreaterThanOrEqual(5_000);
    expect(requestsAge).toBeLessThanOrEqual(Date.now() - now + 5_000);
    expect(await queue.oldestAgeMs('callbacks')).toBeGreaterThanOrEqual(9_000);

    const lease = { max: 9, leaseMs: 60_000, waitMs: 0 };
    const [ready, ...more] = await queue.receive('requests', lease);
    expect(more).toEqual([]);
    expect(ready).toMatchObject({
      id: '41',
      key: 'ready',
      payload: { n: 1 },
      attempt: 1,
      publishedAt: now - 5_000,
    });
    // A delivery leased before the upgrade still acks, and only with its own lease.
    const leased = { id: '42', key: 'leased', attempt: 0, publishedAt: now - 4_000, payload: {} };
    expect(await queue.ack('requests', { ...leased, lease: 'other' })).toBe(false);
    expect(await queue.ack('requests', { ...leased, lease: 'L' })).toBe(true);

    // A new message's id follows the largest copied one.
    await queue.publish('requests', 'new', {});
    const [added, ...others] = await queue.receive('requests', lease);
    expect(others).toEqual([]);
    expect(added).toMatchObject({ key: 'new', id: '44' });
    if (!added) throw new Error('expected the new message');
    await queue.deadLetter('requests', added, 'test');

    const page = await queue.listDeadLetters('callbacks', { limit: 9 });
    expect(page.items).toMatchObject([{ id: '9', key: 'dead', attempt: 5, reason: 'gone' }]);
    expect(await queue.newestDeadLetterId('requests')).toBe('10');
  });

  it('refuses a file written by a newer schema version', () => {
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    expect(() => open()).toThrow(/queue schema 99/);
  });
});
