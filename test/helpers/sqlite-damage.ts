import Database from 'better-sqlite3';

/**
 * Replaces the stored payload of the queued messages (or dead letters) with this key in the
 * SQLite queue file `file`, as a damaged file or a foreign writer would leave it.
 */
export function damagePayload(
  file: string,
  table: 'messages' | 'dead_letters',
  key: string,
  text: string,
): void {
  const db = new Database(file);
  try {
    db.prepare(`UPDATE ${table} SET payload = ? WHERE key = ?`).run(text, key);
  } finally {
    db.close();
  }
}
