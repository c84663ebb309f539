import Fastify, { type RouteHandlerMethod } from 'fastify';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { GroupCommit } from '../src/lib/group-commit.js';
import { BUSY_TIMEOUT_MS, openSqlite } from '../src/lib/sqlite.js';

/**
 * The reference servers, each in a process of its own (argv[2] says which), with the service's
 * route and nothing else:
 *
 * - `bare`, the baseline: answers `202` and does nothing. Fastify still parses the JSON body, as
 *   it would for any route, so the ratio to it is the cost of what Chargegate does per request.
 * - `durable`, the floor of a durable accept: before answering, it also stores the body as one
 *   row in SQLite, with the service's defaults (WAL, `synchronous = NORMAL`, group commit). The
 *   gap between it and the baseline is what durability itself costs; the gap between it and the
 *   service is the rest of the accept path (validation, hashing, the session, logs, metrics).
 */
const variant = process.argv[2] ?? 'bare';

function dataDir(): string {
  const dir = process.argv[3];
  if (dir === undefined) throw new Error('the durable floor needs a data directory (argv[3])');
  return dir;
}
if (variant !== 'bare' && variant !== 'durable') throw new Error(`unknown variant "${variant}"`);

/** `dir` belongs to the harness, which removes it: this process is stopped by a signal. */
function durableHandler(dir: string): RouteHandlerMethod {
  const db = openSqlite({
    file: join(dir, 'floor.db'),
    synchronous: 'normal',
    schema:
      'CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT;',
    schemaVersion: 1,
    kind: 'floor',
  });
  const group = new GroupCommit(db, { lockTimeoutMs: BUSY_TIMEOUT_MS });
  const insert = db.prepare<[string]>('INSERT INTO requests (body) VALUES (?)');
  return async (request, reply) => {
    const text = JSON.stringify(request.body);
    await group.run(() => insert.run(text));
    await reply.code(202).send();
  };
}

const app = Fastify({ logger: false });
app.post(
  '/api/v1/charging-sessions',
  variant === 'durable'
    ? durableHandler(dataDir())
    : async (_request, reply) => {
        await reply.code(202).send();
      },
);
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
process.send?.({ type: 'listening', port });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
