import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { bundledAclPath, loadAclFile, parseAcl } from '../../src/acl-service/acl-file.js';
import { createMemoryAclStore } from '../helpers/acl-memory.js';
import { AUTHORIZE_PATH } from '../../src/contract/authorization.js';
import { createAuthService, type AuthServiceOptions } from '../../src/acl-service/service.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTokenHasher, fingerprintOf } from '../../src/lib/token-hash.js';
import { logSink } from '../helpers/log-sink.js';

const hasher = createTokenHasher('service-test-key-0123456789abcdef01234567');
const STATION = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
const OTHER_STATION = '7c1e4a9d-2b3f-4e8a-9c6d-5f0a1b2c3d4e';
const EXPIRY = '2030-01-01T00:00:00Z';

const TOKENS = {
  active: 'TEST-ACTIVE-aaaaaaaaaaaaaa',
  blocked: 'TEST-BLOCKED-bbbbbbbbbbbbb',
  expired: 'TEST-EXPIRED-ccccccccccccc',
  expiring: 'TEST-EXPIRING-dddddddddddd',
  elsewhere: 'TEST-ELSEWHERE-eeeeeeeeeee',
  unknown: 'TEST-UNKNOWN-fffffffffffff',
};

const ACL = JSON.stringify({
  entries: [
    { token: TOKENS.active, status: 'active' },
    { token: TOKENS.blocked, status: 'blocked' },
    { token: TOKENS.expired, status: 'expired' },
    { token: TOKENS.expiring, status: 'active', expires_at: EXPIRY },
    { token: TOKENS.elsewhere, status: 'active', stations: [OTHER_STATION] },
  ],
});

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** Starts a service on a free port and returns its base URL. */
async function start(options: Partial<AuthServiceOptions> = {}): Promise<string> {
  const app = createAuthService({
    acl: createMemoryAclStore(parseAcl(ACL, 'test ACL', hasher)),
    hasher,
    logger: { level: 'silent' },
    ...options,
  });
  apps.push(app);
  return app.listen({ port: 0, host: '127.0.0.1' });
}

async function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${AUTHORIZE_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    response,
    text: await response.text(),
  };
}

async function ask(base: string, token: string, station = STATION) {
  const { status, text } = await post(base, { station_id: station, driver_token: token });
  expect(status).toBe(200);
  return JSON.parse(text) as unknown;
}

describe('POST /api/v1/authorize', () => {
  it('answers allowed for an active token', async () => {
    const base = await start();
    expect(await ask(base, TOKENS.active)).toEqual({ status: 'allowed', reason: 'active' });
  });

  it('answers not_allowed / blocked for a blocked token', async () => {
    const base = await start();
    expect(await ask(base, TOKENS.blocked)).toEqual({ status: 'not_allowed', reason: 'blocked' });
  });

  it('answers not_allowed / expired for a token whose status is expired', async () => {
    const base = await start();
    expect(await ask(base, TOKENS.expired)).toEqual({ status: 'not_allowed', reason: 'expired' });
  });

  it('answers not_allowed / expired once the injected clock reaches expires_at', async () => {
    let now = Date.parse(EXPIRY) - 1;
    const base = await start({ now: () => now });
    expect(await ask(base, TOKENS.expiring)).toEqual({ status: 'allowed', reason: 'active' });
    now = Date.parse(EXPIRY);
    expect(await ask(base, TOKENS.expiring)).toEqual({ status: 'not_allowed', reason: 'expired' });
  });

  it('answers not_allowed / not_at_this_station outside the token station list', async () => {
    const base = await start();
    expect(await ask(base, TOKENS.elsewhere)).toEqual({
      status: 'not_allowed',
      reason: 'not_at_this_station',
    });
    expect(await ask(base, TOKENS.elsewhere, OTHER_STATION.toUpperCase())).toEqual({
      status: 'allowed',
      reason: 'active',
    });
  });

  it('answers 200 invalid / unknown_token for a well-formed token the ACL does not know', async () => {
    const base = await start();
    expect(await ask(base, TOKENS.unknown)).toEqual({ status: 'invalid', reason: 'unknown_token' });
  });

  it('answers 400 problem+json naming every bad field, without echoing the token', async () => {
    const base = await start();
    const badToken = 'short token with spaces';
    for (const body of [
      { station_id: 'not-a-uuid', driver_token: badToken },
      { station_id: `urn:uuid:${STATION}`, driver_token: TOKENS.active },
      { station_id: 42, driver_token: `${TOKENS.active}!` },
    ]) {
      const { status, type, text } = await post(base, body);
      expect(status).toBe(400);
      expect(type).toMatch(/^application\/problem\+json/);
      expect(text).not.toContain(badToken);
      expect(text).not.toContain(TOKENS.active);
      expect(JSON.parse(text)).toMatchObject({ status: 400, code: 'REQUEST_INVALID' });
    }
    const { text } = await post(base, { station_id: 'x', driver_token: badToken });
    expect((JSON.parse(text) as { errors: unknown }).errors).toEqual([
      { field: 'station_id', message: 'must be a UUID in canonical 8-4-4-4-12 hex form' },
      { field: 'driver_token', message: 'must be 20 to 80 characters of A-Z a-z 0-9 - . _ ~' },
    ]);
    const missing = await post(base, { station_id: STATION });
    expect((JSON.parse(missing.text) as { errors: unknown }).errors).toEqual([
      { field: 'driver_token', message: 'is required' },
    ]);
  });

  it('answers 400 problem+json for malformed JSON without quoting the body', async () => {
    const base = await start();
    const { status, type, text } = await post(base, `{"driver_token": "${TOKENS.active}" oops`);
    expect(status).toBe(400);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(text)).toMatchObject({ code: 'REQUEST_MALFORMED_JSON' });
    expect(text).not.toContain(TOKENS.active);
  });

  it('answers 415 problem+json for a body that is not JSON', async () => {
    const base = await start();
    const { status, type } = await post(base, TOKENS.active, { 'content-type': 'text/plain' });
    expect(status).toBe(415);
    expect(type).toMatch(/^application\/problem\+json/);
  });

  it('answers 500 problem+json when the ACL store fails, so the worker records unknown', async () => {
    const failing = {
      ...createMemoryAclStore(),
      find: () => Promise.reject(new Error('database is down')),
    };
    const base = await start({ acl: failing });
    const { status, type, text } = await post(base, {
      station_id: STATION,
      driver_token: TOKENS.active,
    });
    expect(status).toBe(500);
    expect(type).toMatch(/^application\/problem\+json/);
    expect(text).not.toContain('database is down');
  });

  it('returns the caller x-request-id', async () => {
    const base = await start();
    const { response } = await post(
      base,
      { station_id: STATION, driver_token: TOKENS.active },
      { 'x-request-id': 'req-123' },
    );
    expect(response.headers.get('x-request-id')).toBe('req-123');
  });
});

describe('health and documentation', () => {
  it('is live and ready while the ACL store answers', async () => {
    const base = await start();
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { acl: 'ok' } });
  });

  it('is not ready while the ACL store fails', async () => {
    const base = await start({
      acl: { ...createMemoryAclStore(), ping: () => Promise.reject(new Error('down')) },
    });
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', checks: { acl: 'failing' } });
  });

  it('serves an OpenAPI document built from the validating schemas, and its UI', async () => {
    const base = await start();
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { post?: { requestBody: { content: Record<string, { schema: unknown }> } } }
      >;
    };
    const schema =
      document.paths[AUTHORIZE_PATH]?.post?.requestBody.content['application/json']?.schema;
    expect(schema).toMatchObject({
      required: ['station_id', 'driver_token'],
      properties: { driver_token: { pattern: '^[A-Za-z0-9._~-]{20,80}$' } },
    });
    const ui = await fetch(`${base}/docs`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
  });

  it('serves the documented outcomes from the bundled example ACL', async () => {
    const base = await start({
      acl: createMemoryAclStore(await loadAclFile(bundledAclPath(), hasher)),
    });
    expect(await ask(base, 'DEMO-ALLOWED-0001-abcdefgh')).toEqual({
      status: 'allowed',
      reason: 'active',
    });
    expect(await ask(base, 'DEMO-BLOCKED-0002-abcdefgh')).toMatchObject({ reason: 'blocked' });
    expect(await ask(base, 'DEMO-EXPIRED-0004-abcdefgh')).toMatchObject({ reason: 'expired' });
    expect(await ask(base, 'DEMO-STATION-0005-abcdefgh')).toMatchObject({
      reason: 'not_at_this_station',
    });
  });
});

describe('logging', () => {
  /** Every kind of request the service sees, each carrying a raw token somewhere. */
  async function exercise(base: string) {
    const headers = { 'x-request-id': 'req-log-1', authorization: `Bearer ${TOKENS.blocked}` };
    for (const token of Object.values(TOKENS)) {
      await post(base, { station_id: STATION, driver_token: token }, headers);
    }
    await post(base, { station_id: 'bad', driver_token: TOKENS.active }, headers);
    await post(base, { station_id: STATION, driver_token: `${TOKENS.active} ` }, headers);
    await post(base, `{"driver_token": "${TOKENS.active}" oops`, headers);
    await post(base, JSON.stringify({ driver_token: TOKENS.active }), {
      'content-type': 'text/plain',
    });
  }

  it.each([
    ['a logger without redaction', (stream: Writable) => pino({ level: 'trace' }, stream)],
    ['the process logger', (stream: Writable) => createLogger('trace', stream)],
    ['logger options', (stream: Writable) => ({ level: 'trace', stream })],
  ])('never writes a raw token to the log when given %s', async (_name, makeLogger) => {
    const { lines, stream } = logSink();
    const base = await start({ logger: makeLogger(stream) });
    await exercise(base);
    // Redaction is configured on the logger, so even a careless future log line is covered.
    apps[0]?.log.info(
      { driver_token: TOKENS.active, req: { body: { driver_token: TOKENS.active } } },
      'redaction probe',
    );
    const log = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    expect(log).toContain('"driver_token":"[redacted]"');
    for (const token of Object.values(TOKENS)) expect(log).not.toContain(token);
    const decision = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.msg === 'authorization decision' && entry.status === 'not_allowed');
    expect(decision).toMatchObject({
      level: 20,
      request_id: 'req-log-1',
      token_fingerprint: fingerprintOf(hasher.hash(TOKENS.blocked)),
      station_id: STATION,
      reason: 'blocked',
    });
  });
});
