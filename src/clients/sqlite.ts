import { readFileSync } from 'node:fs';
import { openSqlite, settle, type Synchronous } from '../lib/sqlite.js';
import type { Client, ClientStore } from './port.js';

/** Embedded mode: the clients in their own SQLite file in DATA_DIR (`clients.db`). */

const SCHEMA_VERSION = 1;
/** Read once, at module load, from beside this file. */
const SCHEMA = readFileSync(new URL('./sqlite-schema.sql', import.meta.url), 'utf8');

export function createSqliteClientStore(options: {
  file: string;
  synchronous?: Synchronous;
}): ClientStore {
  const db = openSqlite({
    file: options.file,
    synchronous: options.synchronous ?? 'normal',
    schema: SCHEMA,
    schemaVersion: SCHEMA_VERSION,
    kind: 'clients',
  });
  const sql = {
    list: db.prepare<[], { doc: string }>('SELECT doc FROM clients ORDER BY created_at, id'),
    get: db.prepare<[string], { doc: string }>('SELECT doc FROM clients WHERE name = ?'),
    insert: db.prepare<{ id: string; name: string; created_at: number; doc: string }>(
      `INSERT INTO clients (id, name, created_at, doc) VALUES (@id, @name, @created_at, @doc)
       ON CONFLICT (name) DO NOTHING`,
    ),
    update: db.prepare<[string, string]>('UPDATE clients SET doc = ? WHERE name = ?'),
    remove: db.prepare<[string]>('DELETE FROM clients WHERE name = ?'),
  };
  const change = db.transaction((name: string, apply: (client: Client) => Client) => {
    const row = sql.get.get(name);
    if (row === undefined) return null;
    const changed = apply(JSON.parse(row.doc) as Client);
    sql.update.run(JSON.stringify(changed), name);
    return changed;
  });
  return {
    list: () => settle(() => sql.list.all().map((row) => JSON.parse(row.doc) as Client)),
    create: (client) =>
      settle(
        () =>
          sql.insert.run({
            id: client.id,
            name: client.name,
            created_at: client.createdAt,
            doc: JSON.stringify(client),
          }).changes === 1,
      ),
    change: (name, apply) => settle(() => change.immediate(name, apply)),
    remove: (name) => settle(() => sql.remove.run(name).changes === 1),
    close: () => settle(() => void db.close()),
  };
}
