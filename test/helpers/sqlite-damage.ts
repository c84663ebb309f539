import Database from 'better-sqlite3';
import type { Topic } from '../../src/queue/port.js';

/**
 * Replaces the stored payload of the queued messages (or dead letters) of `topic` with this key
 * in the SQLite queue file `file`, as a damaged file or a foreign writer would leave it.
 */
export function damagePayload(
  file: string,
  table: 'messages' | 'dead_letters',
  topic: Topic,
  key: string,
  text: string,
): void {
  const db = new Database(file);
  try {
    const { changes } = db
      .prepare(`UPDATE ${table} SET payload = ? WHERE topic = ? AND key = ?`)
      .run(text, topic, key);
    if (changes === 0) throw new Error(`no ${topic} row in ${table} with key ${key}`);
  } finally {
    db.close();
  }
}

/**
 * Gives the leased message of `topic` with this key a lease of another holder in the SQLite
 * queue file `file`, as another worker would hold it once this one's lease had run out.
 */
export function takeOverLease(file: string, topic: Topic, key: string, lease: string): void {
  const db = new Database(file);
  try {
    const { changes } = db
      .prepare(
        'UPDATE messages SET lease_token = ? WHERE topic = ? AND key = ? AND lease_token IS NOT NULL',
      )
      .run(lease, topic, key);
    if (changes !== 1) throw new Error(`no leased message with key ${key}`);
  } finally {
    db.close();
  }
}
