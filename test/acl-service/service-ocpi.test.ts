import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAcl } from '../../src/acl-service/acl-file.js';
import { createMemoryAclStore } from '../helpers/acl-memory.js';
import { createAuthService } from '../../src/acl-service/service.js';
import { createTokenHasher } from '../../src/lib/token-hash.js';
import { logSink } from '../helpers/log-sink.js';
import { createLogger } from '../../src/lib/logger.js';

const hasher = createTokenHasher('service-ocpi-test-key-0123456789abcdef0123');
const STATION = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
const OTHER_STATION = '7c1e4a9d-2b3f-4e8a-9c6d-5f0a1b2c3d4e';
const CREDENTIALS = 'emsp-credentials-token-01';
const TOKENS = {
  active: 'TEST-ACTIVE-aaaaaaaaaaaaaa',
  blocked: 'TEST-BLOCKED-bbbbbbbbbbbbb',
  expired: 'TEST-EXPIRED-ccccccccccccc',
  elsewhere: 'TEST-ELSEWHERE-eeeeeeeeeee',
  unknown: 'TEST-UNKNOWN-fffffffffffff',
};
const ACL = JSON.stringify({
  entries: [
    { token: TOKENS.active, status: 'active' },
    { token: TOKENS.blocked, status: 'blocked' },
    { token: TOKENS.expired, status: 'expired' },
    { token: TOKENS.elsewhere, status: 'active', stations: [OTHER_STATION] },
  ],
});
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function start(sink?: ReturnType<typeof logSink>): Promise<string> {
  const app = createAuthService({
    acl: createMemoryAclStore(parseAcl(ACL, 'test ACL', hasher)),
    hasher,
    logger: sink === undefined ? { level: 'silent' } : createLogger('trace', sink.stream),
    ocpiToken: CREDENTIALS,
  });
  apps.push(app);
  return app.listen({ port: 0, host: '127.0.0.1' });
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

async function authorize(
  base: string,
  token: string,
  options: { body?: unknown; auth?: string; query?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(
    `${base}/ocpi/emsp/2.2.1/tokens/${encodeURIComponent(token)}/authorize${options.query ?? '?type=APP_USER'}`,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: options.auth ?? `Token ${base64(CREDENTIALS)}`,
        ...options.headers,
      },
      body:
        typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body ?? { location_id: STATION }),
    },
  );
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

describe('the reference service speaking OCPI 2.2.1', () => {
  it.each([
    [TOKENS.active, 'ALLOWED'],
    [TOKENS.blocked, 'BLOCKED'],
    [TOKENS.expired, 'EXPIRED'],
    [TOKENS.elsewhere, 'NOT_ALLOWED'],
  ])('answers %s with AuthorizationInfo %s and a reference of its own', async (token, allowed) => {
    const base = await start();
    const answer = await authorize(base, token);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status_code: 1000, data: { allowed } });
    const data = answer.body['data'] as Record<string, unknown>;
    expect(data['authorization_reference']).toMatch(UUID);
    expect(data['token']).toMatchObject({ uid: token, type: 'APP_USER', whitelist: 'NEVER' });
    if (allowed === 'ALLOWED') {
      expect(data['location']).toEqual({ location_id: STATION });
      expect(data['info']).toBeUndefined();
    } else {
      expect(data['location']).toBeUndefined();
      expect(data['info']).toMatchObject({ language: 'en' });
    }
    const again = await authorize(base, token);
    expect((again.body['data'] as Record<string, unknown>)['authorization_reference']).not.toBe(
      data['authorization_reference'],
    );
  });

  it('answers an unknown token with HTTP 404 and status 2004', async () => {
    const base = await start();
    const answer = await authorize(base, TOKENS.unknown);
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ status_code: 2004 });
  });

  it('accepts the raw credentials token too, and refuses a wrong or missing one with 401', async () => {
    const base = await start();
    expect((await authorize(base, TOKENS.active, { auth: `Token ${CREDENTIALS}` })).status).toBe(
      200,
    );
    for (const auth of [`Token ${base64('wrong')}`, `Bearer ${CREDENTIALS}`, '']) {
      const answer = await authorize(base, TOKENS.active, { auth });
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ status_code: 2000 });
    }
  });

  it('returns the EVSEs it was asked about when charging is allowed', async () => {
    const base = await start();
    const answer = await authorize(base, TOKENS.active, {
      body: { location_id: STATION, evse_uids: ['E1', 'E2'] },
    });
    expect((answer.body['data'] as Record<string, unknown>)['location']).toEqual({
      location_id: STATION,
      evse_uids: ['E1', 'E2'],
    });
  });

  it('names the parties of the routing headers as the token owner', async () => {
    const base = await start();
    const answer = await authorize(base, TOKENS.active, {
      headers: { 'ocpi-to-country-code': 'de', 'ocpi-to-party-id': 'ems' },
    });
    expect((answer.body['data'] as Record<string, unknown>)['token']).toMatchObject({
      country_code: 'DE',
      party_id: 'EMS',
    });
  });

  it('answers 2002 without a location, 2001 for an unknown type or an overlong uid', async () => {
    const base = await start();
    expect((await authorize(base, TOKENS.active, { body: {} })).body).toMatchObject({
      status_code: 2002,
    });
    expect((await authorize(base, TOKENS.active, { query: '?type=SOMETHING' })).body).toMatchObject(
      { status_code: 2001 },
    );
    expect((await authorize(base, 'T'.repeat(37))).body).toMatchObject({ status_code: 2001 });
  });

  it('answers a body it cannot read with 2001, never echoing the URL or logging the token', async () => {
    const sink = logSink();
    const base = await start(sink);
    const answer = await authorize(base, TOKENS.active, { body: '{"location_id":' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status_code: 2001 });
    expect(answer.text).not.toContain(TOKENS.active);
    await authorize(base, TOKENS.blocked);
    await authorize(base, TOKENS.unknown);
    expect(sink.lines.some((line) => line.includes('OCPI authorization decision'))).toBe(true);
    expect(sink.lines.join('\n')).not.toMatch(/TEST-(ACTIVE|BLOCKED|UNKNOWN)/);
  });

  it('has no OCPI endpoint without a credentials token', async () => {
    const app = createAuthService({
      acl: createMemoryAclStore(parseAcl(ACL, 'test ACL', hasher)),
      hasher,
      logger: { level: 'silent' },
    });
    apps.push(app);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    expect((await authorize(base, TOKENS.active)).status).toBe(404);
  });
});
