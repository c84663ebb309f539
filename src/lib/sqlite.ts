import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Migration } from './migration-files.js';

/** How long a writer waits for another process's write lock before failing. Writes are short
 * (one insert or update), so waiting this long means something is wrong, not busy. */
export const BUSY_TIMEOUT_MS = 5_000;

export type Synchronous = 'normal' | 'full';

/** better-sqlite3 is synchronous and the adapters' ports are async: the executor turns a
 * thrown SqliteError into a rejection, so callers have one error channel. */
export function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}

/** How long opening a file waits for the write lock of another process, which may be migrating
 * it (a copy of its backlog, about 1.6 s per 100,000 queued messages on a slow machine). */
const SCHEMA_LOCK_TIMEOUT_MS = 120_000;

interface SchemaOptions {
  file: string;
  /** Statements that create what is missing (`IF NOT EXISTS`), run after any migration. */
  schema: string;
  schemaVersion: number;
  /** Each takes a file to its `version` from the one before (`loadMigrations`). A new file
   * (version 0) needs none: `schema` creates it as it is now. */
  migrations?: readonly Migration[];
  /** What the file holds, for the error message ("queue", "store"). */
  kind: string;
}

/** Creates the schema, or migrates a file of an earlier one step by step; true if it migrated. */
function applySchema(db: Database.Database, options: SchemaOptions): boolean {
  const { file, kind, schemaVersion } = options;
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version < 0 || version > schemaVersion) {
    throw new Error(`${file} has ${kind} schema ${version}; this release knows ${schemaVersion}`);
  }
  // Version 0 is a new file: the schema creates it as it is now.
  const first = version === 0 ? schemaVersion : version;
  for (let from = first; from < schemaVersion; from += 1) {
    const migration = options.migrations?.find((m) => m.version === from + 1);
    if (migration === undefined) {
      throw new Error(`${file}: no migration from ${kind} schema ${from}`);
    }
    db.exec(migration.sql);
  }
  db.exec(options.schema);
  db.pragma(`user_version = ${schemaVersion}`);
  return first < schemaVersion;
}

/**
 * The database's folder (DATA_DIR) becomes owner-only (0700) and the file, with its WAL and
 * shared-memory files, owner-only (0600): they hold token hashes and, in the queue, raw driver
 * tokens. SQLite creates the WAL and shared-memory files with the database file's mode, so the
 * file is created here first; an older installation's modes are narrowed at every start.
 */
function makePrivate(file: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}

/**
 * Opens (creating if needed) a SQLite database for one of the embedded adapters: WAL, so readers
 * never block the writer; `synchronous` NORMAL by default (a commit survives a process crash)
 * or FULL (it also survives power loss, at the cost of an fsync per commit). The schema is
 * created, and a file of an earlier schema migrated, in one immediate transaction, so two
 * processes opening a file do it one after the other and a crash leaves the file as it was; a
 * file written by a newer release is refused rather than misread.
 */
export function openSqlite(
  options: SchemaOptions & {
    synchronous: Synchronous;
    foreignKeys?: boolean;
    /** Overwrite deleted content with zeros, so a deleted driver token does not linger. */
    secureDelete?: boolean;
  },
): Database.Database {
  const { file } = options;
  makePrivate(file);
  const db = new Database(file);
  try {
    // Opening waits longer for the lock than a write does: another process may be migrating.
    db.pragma(`busy_timeout = ${SCHEMA_LOCK_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    if (options.foreignKeys) db.pragma('foreign_keys = ON');
    if (options.secureDelete) db.pragma('secure_delete = ON');
    const migrated = db.transaction(() => applySchema(db, options)).immediate();
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // A rebuilt table leaves the old pages (zeroed, with secure_delete) in the WAL: give the
    // disk back now rather than whenever a later checkpoint may truncate it.
    if (migrated) db.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
