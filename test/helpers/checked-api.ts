import { expect } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { Client } from 'undici';
import { buildApi } from '../../src/api/server.js';
import { createSqliteQueue } from '../../src/queue/sqlite.js';
import { createSqliteStore } from '../../src/store/sqlite.js';
import { createTokenHasher } from '../../src/lib/token-hash.js';
import { createLogger } from '../../src/lib/logger.js';
import { createMetrics } from '../../src/lib/metrics.js';
import { tempDir } from './service.js';
import {
  FORBIDDEN_HOST,
  IdempotencyLedger,
  expectedAnswer,
  type Expected,
  type ExpectedProblem,
} from './start-request-oracle.js';

/**
 * The public API built in-process with real SQLite adapters, listening on port 0, and the
 * checks every answer to bad input must pass: a 4xx problem (or the 202 the oracle predicts),
 * nothing stored for a rejection, no token echoed or logged, no prototype polluted.
 */

export const PATH = '/api/v1/charging-sessions';

export interface HttpInput {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  chunked?: boolean;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
const ownKeys = (o: object) => Reflect.ownKeys(o).map(String).sort().join(',');
const PRISTINE = PROTOTYPES.map(ownKeys);

export function prototypesAreClean(): boolean {
  for (const key in {}) return key === undefined;
  return PROTOTYPES.every((p, i) => ownKeys(p) === PRISTINE[i]) && !('chargegatePolluted' in {});
}

export function expectProblem(answer: Answer): Record<string, unknown> {
  const context = `${answer.status} ${answer.text.slice(0, 300)}`;
  expect(answer.status, context).toBeGreaterThanOrEqual(400);
  expect(answer.status, context).toBeLessThan(500);
  expect(answer.headers['content-type'], context).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  expect(body['status'], context).toBe(answer.status);
  expect(typeof body['code'], context).toBe('string');
  return body;
}

export type CheckedApi = Awaited<ReturnType<typeof startCheckedApi>>;

export async function startCheckedApi() {
  const dir = tempDir();
  const queue = createSqliteQueue({ file: join(dir.path, 'queue.db') });
  const store = createSqliteStore({ file: join(dir.path, 'store.db') });
  const logLines: string[] = [];
  const app = await buildApi({
    queue,
    store,
    hasher: createTokenHasher('k'.repeat(32)),
    logger: createLogger('info', { write: (line: string) => void logLines.push(line) }),
    maxBacklog: 1_000_000,
    checkCallbackUrl: (u) => (u.hostname === FORBIDDEN_HOST ? 'is a forbidden host' : null),
    version: '0.0.0-test',
    metrics: createMetrics(),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;
  const client = new Client(origin);
  const storeFile = new Database(join(dir.path, 'store.db'), {
    readonly: true,
    fileMustExist: true,
  });
  const countSessions = storeFile.prepare('SELECT count(*) FROM sessions').pluck();
  const ledger = new IdempotencyLedger();
  const accepted = new Set<string>();
  let previousLogCheck: { secret: string | undefined; mark: number } = {
    secret: undefined,
    mark: 0,
  };

  /** What was stored, read through the queue port and straight from the store's file. */
  async function stored() {
    return { depth: await queue.depth('requests'), sessions: countSessions.get() as number };
  }

  async function send(input: HttpInput, through: Client = client): Promise<Answer> {
    const { body } = input;
    const half = body === undefined ? 0 : Math.floor(body.length / 2);
    const response = await through.request({
      method: input.method,
      path: input.path,
      headers: input.headers ?? {},
      body:
        input.chunked && body ? Readable.from([body.subarray(0, half), body.subarray(half)]) : body,
    });
    const text = Buffer.from(await response.body.arrayBuffer()).toString('utf8');
    return { status: response.statusCode, headers: response.headers, text };
  }

  /** Neither the answer nor any log line written meanwhile may contain the token candidate. */
  function expectNotEchoed(text: string, secret: string | undefined, mark: number): void {
    const spellings = (s: string) => [s, JSON.stringify(s).slice(1, -1)];
    for (const s of secret === undefined ? [] : spellings(secret)) {
      expect(text, 'the answer echoes the token').not.toContain(s);
    }
    // A log line may land just after its answer: the previous request's token is checked again.
    for (const check of [previousLogCheck, { secret, mark }]) {
      if (check.secret === undefined) continue;
      const logged = logLines.slice(check.mark).join('');
      for (const s of spellings(check.secret))
        expect(logged, 'a log has the token').not.toContain(s);
    }
    previousLogCheck = { secret, mark };
  }

  function expectRejected(answer: Answer, problems: ExpectedProblem[] | 'any'): void {
    const problem = expectProblem(answer);
    if (problems === 'any') return;
    const fields = ((problem['errors'] ?? []) as { field: string }[]).map((e) => e.field).join();
    const matches = (p: ExpectedProblem) =>
      p.status === answer.status &&
      p.code === problem['code'] &&
      (p.fields === undefined || p.fields.join() === fields);
    const context = `expected one of ${JSON.stringify(problems)}, got ${answer.text.slice(0, 300)}`;
    expect(problems.some(matches), context).toBe(true);
  }

  /** Sends one request and holds the answer to the oracle's verdict and to the invariants. */
  async function exchange(input: HttpInput, expected: Expected, secret?: string): Promise<void> {
    const before = await stored();
    const mark = logLines.length;
    const answer = await send(input);
    const after = await stored();
    expectNotEchoed(answer.text, secret, mark);
    expect(prototypesAreClean(), 'Object.prototype is polluted').toBe(true);
    if (expected.kind === 'reject') {
      expectRejected(answer, expected.problems);
      expect(after, 'a rejected request stored something').toEqual(before);
      return;
    }
    const context = `valid per the oracle, but: ${answer.status} ${answer.text.slice(0, 300)}`;
    expect(answer.status, context).toBe(202);
    const id = (JSON.parse(answer.text) as { request_id: string }).request_id;
    expect(answer.headers['location']).toBe(`${PATH}/${id}`);
    if (expected.replayOf !== undefined) {
      expect(id, 'a replay answers the first request id').toBe(expected.replayOf);
      expect(answer.headers['idempotent-replayed']).toBe('true');
      expect(after).toEqual(before);
      return;
    }
    expect(after).toEqual({ depth: before.depth + 1, sessions: before.sessions + 1 });
    expect(await store.getSession(id)).toMatchObject({
      stationId: expected.fields.station_id.toLowerCase(),
      callbackUrl: expected.fields.callback_url,
      decision: 'pending',
    });
    accepted.add(id);
    if (expected.key !== undefined) ledger.record(expected.key, expected.fields, id);
  }

  /** A start request: what the oracle expects is worked out from exactly what is sent. */
  async function post(
    body: Uint8Array | undefined,
    options: {
      contentType: string | undefined;
      key?: string;
      other?: Record<string, string>;
      chunked?: boolean;
      secret?: string;
    },
  ): Promise<void> {
    const headers: Record<string, string> = { ...options.other };
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.key !== undefined) headers['idempotency-key'] = options.key;
    const expected = expectedAnswer(
      { contentType: options.contentType, body, idempotencyKey: options.key },
      ledger,
    );
    await exchange(
      { method: 'POST', path: PATH, headers, body, chunked: options.chunked },
      expected,
      options.secret,
    );
  }

  async function close(): Promise<void> {
    await client.close();
    await app.close();
    storeFile.close();
    await queue.close();
    await store.close();
    dir.remove();
  }

  return {
    port,
    origin,
    stored,
    send,
    post,
    expectNotEchoed,
    logMark: () => logLines.length,
    acceptedCount: () => accepted.size,
    close,
  };
}
