import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../src/lib/sqlite.js';
import type { Topic } from '../src/queue/port.js';
import { prepareQueueStatements, QUEUE_SCHEMA } from '../src/queue/sqlite.js';
import { percentile } from './load.js';

/**
 * The SQLite queue's schema 2 against schema 1, in one process, interleaved: the service's own
 * statements (publish, lease, ack, from `src/queue/sqlite.ts`) on a file of each schema, in
 * plain transactions of the group size the service's group commit sees, with a standing backlog
 * of delayed messages so that the indexes are not trivial. Prints µs of wall time per message
 * and the ratio of schema 2 to schema 1 for:
 * - an accept's share: inserting a message and committing it;
 * - a message's life: inserting, leasing and acking it, each in its own transaction.
 *
 * Run: `npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/queue-schema.js`
 */

/** Schema 1 as it shipped: this schema's messages with AUTOINCREMENT and an age index. */
function schemaOne(): string {
  const withCounter = QUEUE_SCHEMA.replace(
    'CREATE TABLE IF NOT EXISTS messages (\n  id INTEGER PRIMARY KEY,',
    'CREATE TABLE IF NOT EXISTS messages (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,',
  );
  if (withCounter === QUEUE_SCHEMA) throw new Error('the messages table is not as expected');
  return `${withCounter}\nCREATE INDEX IF NOT EXISTS messages_age ON messages (topic, published_at);`;
}

/** Messages per transaction, about what a loaded accepting thread's group commit carries. */
const GROUP = 12;
const MESSAGES_PER_ROUND = 24_000;
/** Odd, so that the median is a round's own figure. */
const ROUNDS = 9;
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
    schema: version === 1 ? schemaOne() : QUEUE_SCHEMA,
    schemaVersion: version,
    kind: 'queue',
    secureDelete: true,
  });
  const sql = prepareQueueStatements(db);
  const publish = (topic: Topic, key: string, at: number, availableAt = at) =>
    sql.publish.run({
      topic,
      key,
      payload: PAYLOAD,
      attempt: 0,
      published_at: at,
      available_at: availableAt,
    });
  const removeKeys = db.prepare<[string]>('DELETE FROM messages WHERE key LIKE ?');
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < STANDING_BACKLOG; i += 1) publish('callbacks', `c${i}`, now, now + 1e9);
  })();
  return { db, sql, publish, removeKeys };
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
        for (let j = 0; j < GROUP; j += 1) q.publish('requests', `i${round}-${i + j}`, now);
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
        for (let j = 0; j < GROUP; j += 1) q.publish('requests', `l${round}-${i + j}`, now);
      })();
      const leased = q.db.transaction(() =>
        q.sql.lease.all({
          topic: 'requests',
          now: now + 1,
          max: GROUP,
          until: now + 60_000,
          lease,
        }),
      )();
      q.db.transaction(() => {
        for (const { id } of leased) q.sql.ack.run({ topic: 'requests', id, lease });
      })();
    }
  });
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
  const [a, b] = [percentile(times[0], 0.5), percentile(times[1], 0.5)];
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
