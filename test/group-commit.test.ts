import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/lib/group-commit.js';

describe('group commit', () => {
  let dir: string;
  let writer: Database.Database;
  let reader: Database.Database;
  let group: GroupCommit;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chargegate-group-'));
    const file = join(dir, 'group.db');
    writer = new Database(file);
    writer.pragma('journal_mode = WAL');
    writer.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, note TEXT NOT NULL UNIQUE)');
    reader = new Database(file);
    group = new GroupCommit(writer, { lockTimeoutMs: 300 });
  });

  afterEach(() => {
    reader.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (note: string) => () =>
    writer.prepare('INSERT INTO rows (note) VALUES (?)').run(note).changes;
  const notes = () => reader.prepare<[], string>('SELECT note FROM rows ORDER BY id').pluck().all();

  it('resolves a write only once another connection can read it', async () => {
    const written = group.run(insert('a'));
    expect(notes()).toEqual([]);
    await expect(written).resolves.toBe(1);
    expect(notes()).toEqual(['a']);
  });

  it('commits the writes asked for in one turn in one transaction', async () => {
    // Each commit appends the pages it changed to the WAL: 50 commits of one row each would
    // append at least 100 frames (table and index), one commit of 50 rows a handful.
    writer.pragma('wal_autocheckpoint = 0');
    const walFrames = () =>
      (writer.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]?.log ?? 0;
    const before = walFrames();
    await Promise.all(Array.from({ length: 50 }, (_, i) => group.run(insert(`n${i}`))));
    expect(notes()).toHaveLength(50);
    expect(walFrames() - before).toBeLessThan(10);
  });

  it('waits for a lock another connection holds without blocking the event loop', async () => {
    reader.exec('BEGIN IMMEDIATE');
    const written = group.run(insert('a'));
    // Timers still fire while the group waits: the event loop is free.
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        ticks += 1;
        if (ticks === 5) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    expect(notes()).toEqual([]);
    reader.exec('COMMIT');
    await expect(written).resolves.toBe(1);
    expect(notes()).toEqual(['a']);
    // Outside its flushes the connection waits for a lock as before: the writes that do not go
    // through the group (an operator's replay, a purge) still wait rather than fail at once.
    expect(writer.pragma('busy_timeout', { simple: true })).toBe(300);
  });

  it('rejects every write of a turn whose commit fails, and applies none', async () => {
    // Another connection holds the write lock longer than the group waits (300 ms): the one
    // commit of the group fails, so every write of the turn is rejected and none is applied.
    reader.exec('BEGIN IMMEDIATE');
    const turn = [group.run(insert('a')), group.run(insert('b')), group.run(insert('c'))];
    const outcomes = await Promise.allSettled(turn);
    reader.exec('ROLLBACK');
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(notes()).toEqual([]);
    // The next turn commits normally.
    await group.run(insert('d'));
    expect(notes()).toEqual(['d']);
  });

  it('rejects a failing write alone; the others of its turn commit', async () => {
    await group.run(insert('taken'));
    const outcomes = await Promise.allSettled([
      group.run(insert('a')),
      group.run(insert('taken')),
      group.run(insert('b')),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(notes()).toEqual(['taken', 'a', 'b']);
  });

  it('rolls back every statement of a failing transaction function, and only those', async () => {
    const both = writer.transaction((first: string, second: string) => {
      insert(first)();
      insert(second)();
    });
    const outcomes = await Promise.allSettled([
      group.run(() => both('x', 'y')),
      group.run(() => both('z', 'x')), // "z" is inserted, then "x" conflicts: both undone
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
    expect(notes()).toEqual(['x', 'y']);
  });

  it('rejects a write asked for after the connection closed, without throwing elsewhere', async () => {
    const late = group.run(insert('late'));
    writer.close();
    await expect(late).rejects.toThrow(/not open/);
    writer = new Database(join(dir, 'group.db'));
  });

  it('commits what is pending when closed, without waiting for the next turn, and refuses more', async () => {
    const written = group.run(insert('a'));
    group.close();
    expect(notes()).toEqual(['a']);
    await expect(written).resolves.toBe(1);
    await expect(group.run(insert('b'))).rejects.toThrow(/closed/);
  });

  it('rejects the whole turn, and applies none of it, when a failure rolled back the transaction', async () => {
    // SQLite rolls back the whole transaction on some errors (a full disk, an I/O error): the
    // writes after the failing one must not then run, and commit, on their own.
    const outcomes = await Promise.allSettled([
      group.run(insert('a')),
      group.run(() => {
        writer.exec('ROLLBACK');
        throw new Error('disk full');
      }),
      group.run(insert('b')),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(notes()).toEqual([]);
  });
});
