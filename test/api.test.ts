import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../src/api/server.js';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import { createTokenHasher } from '../src/lib/token-hash.js';
import { createLogger } from '../src/lib/logger.js';
import { createMetrics } from '../src/lib/metrics.js';
import { ACCEPTED_MESSAGE } from '../src/api/schemas.js';
import type { Queue } from '../src/queue/port.js';
import type { DecisionStore } from '../src/store/port.js';
import { call, startBody, STATION } from './helpers/client.js';
import { tempDir } from './helpers/service.js';

const TOKEN = 'SECRET-token-never-echoed-123';
const PATH = '/api/v1/charging-sessions';

describe('public API', () => {
  let dir: ReturnType<typeof tempDir>;
  let queue: Queue;
  let store: DecisionStore;
  let app: FastifyInstance;
  let url: string;
  let logged: string;

  async function start(maxBacklog = 1_000) {
    logged = '';
    const destination = { write: (line: string) => void (logged += line) };
    app = await buildApi({
      queue,
      store,
      hasher: createTokenHasher('k'.repeat(32)),
      logger: createLogger('debug', destination),
      maxBacklog,
      checkCallbackUrl: (u) => (u.hostname === 'forbidden.test' ? 'is a forbidden host' : null),
      version: '0.0.0-test',
      metrics: createMetrics(),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }

  beforeEach(async () => {
    dir = tempDir();
    queue = createSqliteQueue({ file: join(dir.path, 'queue.db') });
    store = createSqliteStore({ file: join(dir.path, 'store.db') });
    await start();
  });

  afterEach(async () => {
    await app.close();
    await queue.close();
    await store.close();
    dir.remove();
  });

  it('answers 202 with the exact acknowledgement, a request id and a Location, after storing it', async () => {
    const answer = await call(url, 'POST', PATH, { body: startBody({ driver_token: TOKEN }) });
    expect(answer.status).toBe(202);
    const body = answer.json();
    expect(Object.keys(body)).toEqual(['status', 'message', 'request_id']);
    expect(body['status']).toBe('accepted');
    expect(body['message']).toBe(ACCEPTED_MESSAGE);
    const id = body['request_id'] as string;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(answer.headers['location']).toBe(`${PATH}/${id}`);
    expect(await queue.depth('requests')).toBe(1);
    expect((await store.getSession(id))?.decision).toBe('pending');
  });

  it('shows an accepted request as pending, without the driver token', async () => {
    const post = await call(url, 'POST', PATH, { body: startBody({ driver_token: TOKEN }) });
    const id = post.json()['request_id'] as string;
    const answer = await call(url, 'GET', `${PATH}/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.text).not.toContain(TOKEN);
    expect(answer.json()).toMatchObject({
      request_id: id,
      station_id: STATION,
      decision: 'pending',
      reason: null,
      decided_at: null,
      callback: { state: 'pending', attempts: 0, history: [] },
    });
  });

  it('names every bad field in one 400 problem, never echoes the token, and stores nothing', async () => {
    const badToken = 'short<script>';
    const answer = await call(url, 'POST', PATH, {
      body: { station_id: 'not-a-uuid', driver_token: badToken, callback_url: 'ftp://x.test/' },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = answer.json();
    expect(problem).toMatchObject({
      status: 400,
      code: 'REQUEST_INVALID',
      title: 'Invalid request',
    });
    expect((problem['errors'] as { field: string }[]).map((e) => e.field)).toEqual([
      'station_id',
      'driver_token',
      'callback_url',
    ]);
    expect(answer.text).not.toContain(badToken);
    expect(logged).not.toContain(badToken);
    expect(await queue.depth('requests')).toBe(0);
  });

  it('reports missing fields as required and a non-object body as a bad body', async () => {
    const missing = await call(url, 'POST', PATH, { body: { station_id: STATION } });
    expect(missing.status).toBe(400);
    expect(missing.json()['errors']).toEqual([
      { field: 'driver_token', message: 'is required' },
      { field: 'callback_url', message: 'is required' },
    ]);
    for (const body of ['[]', '"text"', 'null', '42']) {
      const answer = await call(url, 'POST', PATH, { body });
      expect(answer.status, body).toBe(400);
      expect(answer.json()['errors']).toEqual([
        { field: 'body', message: 'must be a JSON object' },
      ]);
    }
  });

  it('refuses wrong types, over-long values and callback URLs that are not absolute http(s)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ station_id: 12 }, 'station_id'],
      [{ station_id: STATION.toUpperCase().replace(/-/g, '') }, 'station_id'],
      [{ driver_token: 'x'.repeat(81) }, 'driver_token'],
      [{ driver_token: 'has spaces in the token here' }, 'driver_token'],
      [{ callback_url: `https://a.test/${'p'.repeat(2048)}` }, 'callback_url'],
      [{ callback_url: '/relative/path' }, 'callback_url'],
      [{ callback_url: 'javascript:alert(1)' }, 'callback_url'],
      [{ callback_url: 'http://forbidden.test/hook' }, 'callback_url'],
    ];
    for (const [override, field] of cases) {
      const answer = await call(url, 'POST', PATH, { body: startBody(override) });
      expect(answer.status, JSON.stringify(override).slice(0, 80)).toBe(400);
      expect((answer.json()['errors'] as { field: string }[]).map((e) => e.field)).toEqual([field]);
    }
    expect(await queue.depth('requests')).toBe(0);
  });

  it('answers 415 for a body that is not JSON, 413 above 16 KiB, 400 for malformed JSON', async () => {
    const form = await call(url, 'POST', PATH, {
      body: 'station_id=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect(form.json()['code']).toBe('REQUEST_UNSUPPORTED_MEDIA_TYPE');
    const none = await call(url, 'POST', PATH);
    expect(none.status).toBe(415);
    const text = await call(url, 'POST', PATH, {
      body: JSON.stringify(startBody()),
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    const large = await call(url, 'POST', PATH, {
      body: startBody({ padding: 'x'.repeat(16 * 1024) }),
    });
    expect(large.status).toBe(413);
    expect(large.json()['code']).toBe('REQUEST_TOO_LARGE');
    for (const body of ['{"station_id":', '{}}', '']) {
      const malformed = await call(url, 'POST', PATH, {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.status, body).toBe(400);
      expect(malformed.json()['code']).toBe('REQUEST_MALFORMED_JSON');
    }
    expect(await queue.depth('requests')).toBe(0);
  });

  it('refuses prototype-pollution keys as malformed JSON', async () => {
    const body = `{"station_id":"${STATION}","driver_token":"${TOKEN}","callback_url":"https://a.test/","__proto__":{"polluted":true}}`;
    const answer = await call(url, 'POST', PATH, { body });
    expect(answer.status).toBe(400);
    expect(answer.text).not.toContain(TOKEN);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('returns the same request id for the same Idempotency-Key and body, and processes it once', async () => {
    const headers = { 'idempotency-key': 'order-42' };
    const first = await call(url, 'POST', PATH, { body: startBody(), headers });
    const second = await call(url, 'POST', PATH, { body: startBody(), headers });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.json()['request_id']).toBe(first.json()['request_id']);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await queue.depth('requests')).toBe(1);
  });

  it('treats the station id in other letter case as the same body for an Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'order-44' };
    const first = await call(url, 'POST', PATH, { body: startBody(), headers });
    const upper = startBody({ station_id: STATION.toUpperCase() });
    const second = await call(url, 'POST', PATH, { body: upper, headers });
    expect(second.status).toBe(202);
    expect(second.json()['request_id']).toBe(first.json()['request_id']);
    expect(await queue.depth('requests')).toBe(1);
  });

  it('answers 422 when an Idempotency-Key is reused with another body, storing nothing', async () => {
    const headers = { 'idempotency-key': 'order-43' };
    await call(url, 'POST', PATH, { body: startBody(), headers });
    const reused = await call(url, 'POST', PATH, {
      body: startBody({ driver_token: 'another-token-entirely-0001' }),
      headers,
    });
    expect(reused.status).toBe(422);
    expect(reused.json()['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(reused.text).not.toContain('another-token-entirely-0001');
    expect(await queue.depth('requests')).toBe(1);
  });

  it("never tells another request's id in the 422, nor lets another receiver's client claim or probe a key", async () => {
    const headers = { 'idempotency-key': 'guessable-1' };
    const mine = await call(url, 'POST', PATH, {
      body: startBody({}, 'https://app.example/cb'),
      headers,
    });
    const mineId = mine.json()['request_id'] as string;
    // Same key and receiver, another body: refused, without naming the first request.
    const reused = await call(url, 'POST', PATH, {
      body: startBody({ driver_token: 'another-token-entirely-0002' }, 'https://app.example/cb'),
      headers,
    });
    expect(reused.status).toBe(422);
    expect(reused.text).not.toContain(mineId);
    // Another receiver's client with the same key: its own request, neither blocked nor a replay.
    const other = await call(url, 'POST', PATH, {
      body: startBody({ driver_token: 'another-token-entirely-0003' }, 'https://evil.example/cb'),
      headers,
    });
    expect(other.status).toBe(202);
    expect(other.json()['request_id']).not.toBe(mineId);
    expect(other.headers['idempotent-replayed']).toBeUndefined();
    // And the key still replays for its owner.
    const replay = await call(url, 'POST', PATH, {
      body: startBody({}, 'https://app.example/cb'),
      headers,
    });
    expect(replay.json()['request_id']).toBe(mineId);
  });

  it('refuses an Idempotency-Key that is too long or not printable', async () => {
    const answer = await call(url, 'POST', PATH, {
      body: startBody(),
      headers: { 'idempotency-key': 'k'.repeat(256) },
    });
    expect(answer.status).toBe(400);
    expect(answer.json()['code']).toBe('IDEMPOTENCY_KEY_INVALID');
  });

  it('answers 503 with Retry-After and stores nothing once the backlog is at its bound', async () => {
    await app.close();
    await start(2);
    expect((await call(url, 'POST', PATH, { body: startBody() })).status).toBe(202);
    expect((await call(url, 'POST', PATH, { body: startBody() })).status).toBe(202);
    const full = await call(url, 'POST', PATH, { body: startBody() });
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toMatch(/^\d+$/);
    expect(full.json()['code']).toBe('BACKLOG_FULL');
    expect(await queue.depth('requests')).toBe(2);
  });

  it('answers 404 problems for unknown and malformed request ids', async () => {
    for (const id of ['01234567-89ab-7def-8123-456789abcdef', 'nope']) {
      const answer = await call(url, 'GET', `${PATH}/${id}`);
      expect(answer.status, id).toBe(404);
      expect(answer.json()['code']).toBe('SESSION_NOT_FOUND');
    }
  });

  it('answers an unknown route with a 404 problem of its own, not a missing session', async () => {
    for (const [method, path] of [
      ['POST', '/api/v1/reservations'],
      ['GET', `${PATH}/../../etc`],
      ['GET', '/nowhere'],
    ] as const) {
      const answer = await call(url, method, path, method === 'POST' ? { body: {} } : {});
      expect(answer.status, path).toBe(404);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', status: 404 });
    }
  });

  it('serves Prometheus metrics that count accepted requests and never name a token', async () => {
    await call(url, 'POST', PATH, { body: startBody({ driver_token: TOKEN }) });
    const answer = await call(url, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.text).toMatch(/^chargegate_requests_accepted_total 1$/m);
    expect(answer.text).toContain('chargegate_authorization_circuit_state');
    expect(answer.text).toMatch(/^chargegate_queue_depth\{topic="requests"\} 1$/m);
    expect(answer.text).toMatch(
      /^chargegate_queue_oldest_age_seconds\{topic="requests"\} [0-9.e-]+$/m,
    );
    expect(answer.text).toMatch(/^chargegate_dead_letters\{topic="callbacks"\} 0$/m);
    expect(answer.text).toMatch(/^chargegate_acknowledgement_duration_seconds_count 1$/m);
    expect(answer.text).toMatch(
      /^chargegate_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/charging-sessions",status="2xx"\} 1$/m,
    );
    expect(answer.text).toContain('chargegate_process_cpu_seconds_total');
    expect(answer.text).not.toContain(TOKEN);
  });

  it('reports live and ready, and not ready when the store fails', async () => {
    expect((await call(url, 'GET', '/health/live')).json()).toEqual({ status: 'ok' });
    const ready = await call(url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { store: 'ok', queue: 'ok' } });
    await store.close();
    const down = await call(url, 'GET', '/health/ready');
    expect(down.status).toBe(503);
    expect(down.json()).toMatchObject({
      status: 'not_ready',
      checks: { store: 'failing', queue: 'ok' },
    });
    store = createSqliteStore({ file: join(dir.path, 'store.db') });
  });

  it('publishes an OpenAPI document generated from the validating schemas, with the callback and the authorization contract', async () => {
    const doc = (await call(url, 'GET', '/openapi.json')).json() as {
      paths: Record<
        string,
        Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>
      >;
      webhooks: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    };
    const post = doc.paths['/api/v1/charging-sessions']?.['post'];
    expect(post?.responses).toHaveProperty('202');
    expect(JSON.stringify(post?.requestBody)).toContain('^[A-Za-z0-9._~-]{20,80}$');
    expect(doc.paths['/api/v1/charging-sessions/{request_id}']?.['get']?.responses).toHaveProperty(
      '404',
    );
    expect(doc.webhooks).toHaveProperty('chargingSessionDecision');
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'CallbackPayload',
        'AuthorizeRequest',
        'AuthorizeResponse',
        'Problem',
      ]),
    );
    const ui = await call(url, 'GET', '/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });
});
