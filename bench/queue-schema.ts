import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../src/lib/sqlite.js';

/**
 * The SQLite queue's schema 2 against schema 1, in one process, interleaved: statements shaped
 * like those of `src/queue/sqlite.ts` (publish, lease, ack) on each file, in plain transactions
 * of the group size the service's group commit sees, with a standing backlog of delayed
 * messages so that the indexes are not trivial.
 * Prints µs of wall time per message and the ratio of schema 2 to schema 1 for:
 * - an accept's share: inserting a message and committing it;
 * - a message's life: inserting, leasing and acking it, each in its own transaction.
 *
 * Run: `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/queue-schema.js`
 */

const COLUMNS = `topic TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0, published_at INTEGER NOT NULL,
  available_at INTEGER NOT NULL, lease_until INTEGER, lease_token TEXT`;

const SCHEMAS = {
  // Schema 1 as it shipped.
  1: `CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, ${COLUMNS}) STRICT;
      CREATE INDEX IF NOT EXISTS messages_ready ON messages (topic, available_at, id);
      CREATE INDEX IF NOT EXISTS messages_age ON messages (topic, published_at);`,
  2: `CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, ${COLUMNS}) STRICT;
      CREATE INDEX IF NOT EXISTS messages_ready ON messages (topic, available_at, id);`,
} as const;

/** Messages per transaction, about what a loaded accepting thread's group commit carries. */
const GROUP = 12;
const MESSAGES_PER_ROUND = 24_000;
const ROUNDS = 8;
const STANDING_BACKLOG = 2_000;

const PAYLOAD = JSON.stringify({
  v: 1,
  request_id: '0190b6c1-6f7e-7c3a-9d2e-1a2b3c4d5e6f',
  station_id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  driver_token: 'BENCH-ALLOWED-0001-abcdefgh',
  callback_url: 'http://127.0.0.1:9/hooks/charging',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

function openQueueFile(dir: string, version: 1 | 2) {
  const db = openSqlite({
    file: join(dir, `queue-${version}.db`),
    synchronous: 'normal',
    schema: SCHEMAS[version],
    schemaVersion: 1,
    kind: 'queue',
    secureDelete: true,
  });
  const publish = db.prepare<[string, string, number, number]>(
    `INSERT INTO messages (topic, key, payload, attempt, published_at, available_at)
     VALUES (?, ?, '${PAYLOAD}', 0, ?, ?)`,
  );
  const lease = db.prepare<
    { topic: string; now: number; max: number; until: number; lease: string },
    { id: number }
  >(
    `UPDATE messages SET available_at = @until, lease_until = @until, lease_token = @lease
     WHERE id IN (SELECT id FROM messages WHERE topic = @topic AND available_at <= @now
                  ORDER BY available_at, id LIMIT @max)
     RETURNING id`,
  );
  const ack = db.prepare<[number, string, string]>(
    'DELETE FROM messages WHERE id = ? AND topic = ? AND lease_token = ?',
  );
  const removeKeys = db.prepare<[string]>('DELETE FROM messages WHERE key LIKE ?');
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < STANDING_BACKLOG; i += 1) publish.run('callbacks', `c${i}`, now, now + 1e9);
  })();
  return { db, publish, lease, ack, removeKeys };
}

type QueueFile = ReturnType<typeof openQueueFile>;

function microsPerMessage(work: () => void): number {
  const started = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - started) / 1_000 / MESSAGES_PER_ROUND;
}

/** Inserts committed in groups (an accept's share); the rows are removed outside the timing. */
function insertRound(q: QueueFile, round: number): number {
  const micros = microsPerMessage(() => {
    for (let i = 0; i < MESSAGES_PER_ROUND; i += GROUP) {
      const now = Date.now();
      q.db.transaction(() => {
        for (let j = 0; j < GROUP; j += 1)
          q.publish.run('requests', `i${round}-${i + j}`, now, now);
      })();
    }
  });
  q.removeKeys.run(`i${round}-%`);
  return micros;
}

/** Each group published, leased and acked, three transactions. */
function lifeRound(q: QueueFile, round: number): number {
  return microsPerMessage(() => {
    for (let i = 0; i < MESSAGES_PER_ROUND; i += GROUP) {
      const now = Date.now();
      const lease = `L${round}-${i}`;
      q.db.transaction(() => {
        for (let j = 0; j < GROUP; j += 1)
          q.publish.run('requests', `l${round}-${i + j}`, now, now);
      })();
      const leased = q.db.transaction(() =>
        q.lease.all({ topic: 'requests', now: now + 1, max: GROUP, until: now + 60_000, lease }),
      )();
      q.db.transaction(() => {
        for (const { id } of leased) q.ack.run(id, 'requests', lease);
      })();
    }
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? NaN)
    : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
}

function compare(label: string, files: [QueueFile, QueueFile], round: typeof insertRound) {
  const [one, two] = files;
  round(one, -1);
  round(two, -1);
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < ROUNDS; r += 1) {
    // Alternate which goes first, so that neither always runs on a warmer cache.
    const order = r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
    for (const k of order) times[k].push(round(files[k], r));
  }
  const [a, b] = [median(times[0]), median(times[1])];
  const pairs = times[0].map((t, i) => ((times[1][i] ?? NaN) / t).toFixed(2)).join(' ');
  process.stdout.write(
    `${label.padEnd(32)} schema 1 ${a.toFixed(1).padStart(6)} µs  schema 2 ${b.toFixed(1).padStart(6)} µs` +
      `  ratio ${(b / a).toFixed(2)} (each round: ${pairs})\n`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'chargegate-queue-schema-'));
try {
  const files: [QueueFile, QueueFile] = [openQueueFile(dir, 1), openQueueFile(dir, 2)];
  process.stdout.write(
    `µs of wall time per message, median of ${ROUNDS} interleaved rounds of ` +
      `${MESSAGES_PER_ROUND.toLocaleString('en-US')}, groups of ${GROUP}, ` +
      `${STANDING_BACKLOG.toLocaleString('en-US')} delayed messages standing\n`,
  );
  compare('insert and commit', files, insertRound);
  compare('insert, lease and ack', files, lifeRound);
  for (const q of files) q.db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
