import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** How long a writer waits for another process's write lock before failing. Writes are short
 * (one insert or update), so waiting this long means something is wrong, not busy. */
export const BUSY_TIMEOUT_MS = 5_000;

export type Synchronous = 'normal' | 'full';

/** better-sqlite3 is synchronous and the adapters' ports are async: the executor turns a
 * thrown SqliteError into a rejection, so callers have one error channel. */
export function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}

/**
 * Opens (creating if needed) a SQLite database for one of the embedded adapters: WAL, so readers
 * never block the writer; `synchronous` NORMAL by default (a commit survives a process crash)
 * or FULL (it also survives power loss, at the cost of an fsync per commit). The schema is
 * created, and a file of an earlier schema migrated, in one immediate transaction, so two
 * processes opening a file do it one after the other and a crash leaves the file as it was; a
 * file written by a newer release is refused rather than misread.
 */
export function openSqlite(options: {
  file: string;
  synchronous: Synchronous;
  schema: string;
  schemaVersion: number;
  /** SQL that takes a file of schema version `n` (the key) to `n + 1`, run before `schema`
   * (whose statements are all `IF NOT EXISTS`). A new file (version 0) needs none. */
  migrations?: Readonly<Record<number, string>>;
  /** What the file holds, for the error message ("queue", "store"). */
  kind: string;
  foreignKeys?: boolean;
  /** Overwrite deleted content with zeros, so a deleted driver token does not linger on disk. */
  secureDelete?: boolean;
}): Database.Database {
  const { file, schemaVersion } = options;
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    if (options.foreignKeys) db.pragma('foreign_keys = ON');
    if (options.secureDelete) db.pragma('secure_delete = ON');
    db.transaction(() => {
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > schemaVersion) {
        throw new Error(
          `${file} has ${options.kind} schema ${version}; this release knows ${schemaVersion}`,
        );
      }
      // Version 0 is a new file: the schema creates it as it is now.
      for (let from = version; from > 0 && from < schemaVersion; from += 1) {
        const migration = options.migrations?.[from];
        if (migration === undefined) {
          throw new Error(`${file}: no migration from ${options.kind} schema ${from}`);
        }
        db.exec(migration);
      }
      db.exec(options.schema);
      db.pragma(`user_version = ${schemaVersion}`);
    }).immediate();
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
