import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { uuidv7 } from '../lib/ids.js';
import { openSqlite, type Synchronous, settle } from '../lib/sqlite.js';
import {
  applyPatch,
  sortedStations,
  type AclCreateResult,
  type AclEntry,
  type AclEntryStatus,
  type AclImportResult,
  type AclPatch,
  type AclRecord,
  type AclStore,
} from './acl.js';

/**
 * The embedded ACL store: one SQLite file (WAL), read on every decision, so a change made
 * through the admin API, in this process or another, applies to the next authorization. The
 * one-entry-per-token rule is the table's UNIQUE key, not a read before the write.
 */

export interface SqliteAclStoreOptions {
  /** Database file, created with its directory when missing; its own file, not the queue's or
   * the decision store's, since each keeps its own schema version. */
  file: string;
  /** `normal` survives a crash of the process; `full` also survives power loss. */
  synchronous?: Synchronous;
  /** Clock for `created_at`/`updated_at`, epoch milliseconds. */
  now?: () => number;
}

/** Bumped with every schema change; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 1;

/** Read once, at module load, from beside this file. */
const SCHEMA = readFileSync(new URL('./acl-sqlite-schema.sql', import.meta.url), 'utf8');

interface Content {
  token_hash: string;
  status: AclEntryStatus;
  expires_at: number | null;
  stations: string | null;
  note: string | null;
}

interface Row extends Content {
  id: string;
  created_at: number;
  updated_at: number;
}

/** A row to write: `at` is both timestamps of a new row and the `updated_at` of a changed one. */
type Write = Content & { id: string; at: number };

const COLUMNS = 'id, token_hash, status, expires_at, stations, note, created_at, updated_at';
const VALUES = '@id, @token_hash, @status, @expires_at, @stations, @note, @at, @at';

function prepareStatements(db: Database.Database) {
  return {
    find: db.prepare<[string], Row>('SELECT * FROM acl_entries WHERE token_hash = ?'),
    get: db.prepare<[string], Row>('SELECT * FROM acl_entries WHERE id = ?'),
    page: db.prepare<[string, number], Row>(
      'SELECT * FROM acl_entries WHERE id > ? ORDER BY id LIMIT ?',
    ),
    idOf: db.prepare<[string], { id: string }>('SELECT id FROM acl_entries WHERE token_hash = ?'),
    insert: db.prepare<Write>(
      `INSERT INTO acl_entries (${COLUMNS}) VALUES (${VALUES}) ON CONFLICT (token_hash) DO NOTHING`,
    ),
    rewrite: db.prepare<Write>(
      `UPDATE acl_entries SET status = @status, expires_at = @expires_at, stations = @stations,
         note = @note, updated_at = @at
       WHERE id = @id`,
    ),
    // An import leaves an entry that already says the same untouched, updated_at included.
    upsert: db.prepare<Write>(
      `INSERT INTO acl_entries (${COLUMNS}) VALUES (${VALUES})
       ON CONFLICT (token_hash) DO UPDATE SET status = excluded.status,
         expires_at = excluded.expires_at, stations = excluded.stations, note = excluded.note,
         updated_at = excluded.updated_at
       WHERE (status, expires_at, stations, note)
         IS NOT (excluded.status, excluded.expires_at, excluded.stations, excluded.note)`,
    ),
    deleteOthers: db.prepare<[string]>(
      'DELETE FROM acl_entries WHERE token_hash NOT IN (SELECT value FROM json_each(?))',
    ),
    delete: db.prepare<[string]>('DELETE FROM acl_entries WHERE id = ?'),
    count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM acl_entries'),
    ping: db.prepare('SELECT 1'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

function toContent(entry: AclEntry): Content {
  return {
    token_hash: entry.tokenHash,
    status: entry.status,
    expires_at: entry.expiresAt ?? null,
    stations: entry.stations === undefined ? null : JSON.stringify(sortedStations(entry.stations)),
    note: entry.note ?? null,
  };
}

function toRecord(row: Row): AclRecord {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    status: row.status,
    ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    ...(row.stations === null ? {} : { stations: new Set(JSON.parse(row.stations) as string[]) }),
    ...(row.note === null ? {} : { note: row.note }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Each runs with `.immediate()`: the write lock is taken before the first read, so another
 * process's write commits entirely before or after it. */
function prepareTransactions(db: Database.Database, sql: Statements, now: () => number) {
  return {
    create: db.transaction((entry: AclEntry): AclCreateResult => {
      const at = now();
      const write = { ...toContent(entry), id: uuidv7(at), at };
      if (sql.insert.run(write).changes === 1) {
        return { created: true, entry: toRecord({ ...write, created_at: at, updated_at: at }) };
      }
      const existing = sql.idOf.get(entry.tokenHash);
      if (!existing) throw new Error('An ACL entry was neither stored nor found');
      return { created: false, existingId: existing.id };
    }),
    update: db.transaction((id: string, patch: AclPatch): AclRecord | undefined => {
      const row = sql.get.get(id);
      if (!row) return undefined;
      const record = applyPatch(toRecord(row), patch, now());
      sql.rewrite.run({ ...toContent(record), id, at: record.updatedAt });
      return record;
    }),
    import: db.transaction((entries: readonly AclEntry[], replace: boolean) => {
      const at = now();
      const result = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
      for (const entry of entries) {
        const existed = sql.idOf.get(entry.tokenHash) !== undefined;
        const changed = sql.upsert.run({ ...toContent(entry), id: uuidv7(at), at }).changes === 1;
        if (!existed) result.created += 1;
        else if (changed) result.updated += 1;
        else result.unchanged += 1;
      }
      if (replace) {
        const keep = JSON.stringify(entries.map((entry) => entry.tokenHash));
        result.deleted = sql.deleteOthers.run(keep).changes;
      }
      return result;
    }),
  };
}

class SqliteAclStore implements AclStore {
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #tx: ReturnType<typeof prepareTransactions>;
  #closed = false;

  constructor(options: SqliteAclStoreOptions) {
    this.#db = openSqlite({
      file: options.file,
      synchronous: options.synchronous ?? 'normal',
      schema: SCHEMA,
      schemaVersion: SCHEMA_VERSION,
      kind: 'ACL',
      // A deleted entry's token hash is overwritten on disk, not left in a free page.
      secureDelete: true,
    });
    this.#sql = prepareStatements(this.#db);
    this.#tx = prepareTransactions(this.#db, this.#sql, options.now ?? Date.now);
  }

  find(tokenHash: string) {
    return settle(() => this.#record(this.#sql.find.get(tokenHash)));
  }

  get(id: string) {
    return settle(() => this.#record(this.#sql.get.get(id)));
  }

  list({ limit, after }: { limit: number; after?: string }) {
    return settle(() => {
      // One row more than asked tells whether another page exists without a COUNT.
      const rows = this.#sql.page.all(after ?? '', limit + 1);
      const items = rows.slice(0, limit).map(toRecord);
      const last = items.at(-1);
      return rows.length > limit && last !== undefined ? { items, next: last.id } : { items };
    });
  }

  create(entry: AclEntry) {
    return settle(() => this.#tx.create.immediate(entry));
  }

  update(id: string, patch: AclPatch) {
    return settle(() => this.#tx.update.immediate(id, patch));
  }

  delete(id: string) {
    return settle(() => this.#sql.delete.run(id).changes === 1);
  }

  importEntries(entries: readonly AclEntry[], options: { mode: 'upsert' | 'replace' }) {
    return settle((): AclImportResult =>
      this.#tx.import.immediate(entries, options.mode === 'replace'),
    );
  }

  count() {
    return settle(() => this.#sql.count.get()?.n ?? 0);
  }

  ping() {
    return settle(() => {
      if (this.#closed) throw new Error('The SQLite ACL store is closed');
      this.#sql.ping.get();
    });
  }

  close() {
    return settle(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#db.close();
    });
  }

  #record(row: Row | undefined): AclRecord | undefined {
    return row === undefined ? undefined : toRecord(row);
  }
}

export function createSqliteAclStore(options: SqliteAclStoreOptions): AclStore {
  return new SqliteAclStore(options);
}
