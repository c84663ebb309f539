import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuthorizationClient,
  type AuthorizationClient,
} from '../../src/authorization/client.js';
import { CircuitBreaker } from '../../src/lib/circuit-breaker.js';
import type { OcpiClientSettings } from '../../src/authorization/ocpi.js';
import { startScriptedServer, type Reply, type ScriptedServer } from '../helpers/http.js';
import { STATION } from '../helpers/client.js';

const TOKEN = 'DEMO-ALLOWED-0001-abcdefgh';
const REQUEST_ID = '0192f3a4-5b6c-7d8e-9f00-112233445566';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function ocpi(statusCode: number, data?: unknown, http = 200): Reply {
  return {
    status: http,
    body: JSON.stringify({
      ...(data === undefined ? {} : { data }),
      status_code: statusCode,
      timestamp: '2026-01-01T00:00:00Z',
    }),
  };
}

const info = (allowed: string, extra: object = {}) => ({
  allowed,
  token: { uid: TOKEN, type: 'APP_USER' },
  ...extra,
});

describe('OCPI 2.2.1 real-time authorization client', () => {
  let emsp: ScriptedServer;
  let client: AuthorizationClient;
  let settings: OcpiClientSettings;

  const open = (overrides: Partial<OcpiClientSettings> = {}) => {
    client = createAuthorizationClient({
      url: `${emsp.url}/ocpi/emsp/2.2.1/tokens/`,
      ocpi: { ...settings, ...overrides },
      timeoutMs: 500,
      maxInFlight: 4,
      breaker: new CircuitBreaker({ failureThreshold: 100, openMs: 1_000 }),
    });
  };
  const decide = (driverToken = TOKEN) =>
    client.authorize({ requestId: REQUEST_ID, stationId: STATION, driverToken });

  beforeEach(async () => {
    emsp = await startScriptedServer(() => ocpi(1000, info('ALLOWED')));
    settings = { credentialsToken: 'cpo-credentials-token', tokenType: 'APP_USER' };
    open();
  });

  afterEach(async () => {
    await client.close();
    await emsp.close();
  });

  it('posts the location to {tokens}/{token_uid}/authorize?type= with the OCPI headers', async () => {
    await decide();
    const [request] = emsp.requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`/ocpi/emsp/2.2.1/tokens/${TOKEN}/authorize?type=APP_USER`);
    expect(JSON.parse(request?.body ?? '')).toEqual({ location_id: STATION });
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers['authorization']).toBe(
      `Token ${Buffer.from('cpo-credentials-token').toString('base64')}`,
    );
    expect(request?.headers['x-correlation-id']).toBe(REQUEST_ID);
    expect(request?.headers['x-request-id']).toMatch(UUID);
    expect(request?.headers['x-request-id']).not.toBe(REQUEST_ID);
    expect(Object.keys(request?.headers ?? {}).filter((h) => h.startsWith('ocpi-'))).toEqual([]);
  });

  it('sends a fresh X-Request-ID with every call', async () => {
    await decide();
    await decide();
    const ids = emsp.requests.map((r) => r.headers['x-request-id']);
    expect(new Set(ids).size).toBe(2);
  });

  it('sends the four routing headers when both parties are configured', async () => {
    await client.close();
    open({
      tokenType: 'RFID',
      from: { countryCode: 'NL', partyId: 'CPO' },
      to: { countryCode: 'DE', partyId: 'EMS' },
    });
    await decide();
    const headers = emsp.requests[0]?.headers ?? {};
    expect(emsp.requests[0]?.url).toMatch(/\/authorize\?type=RFID$/);
    expect(headers['ocpi-from-country-code']).toBe('NL');
    expect(headers['ocpi-from-party-id']).toBe('CPO');
    expect(headers['ocpi-to-country-code']).toBe('DE');
    expect(headers['ocpi-to-party-id']).toBe('EMS');
  });

  it('percent-encodes a token that is not a plain path segment', async () => {
    await decide('AB/12 34?#%é');
    expect(emsp.requests[0]?.url).toBe(
      '/ocpi/emsp/2.2.1/tokens/AB%2F12%2034%3F%23%25%C3%A9/authorize?type=APP_USER',
    );
  });

  it('decides a token longer than the 36 characters of a Token.uid invalid without a call', async () => {
    expect(await decide('T'.repeat(37))).toMatchObject({
      decision: 'invalid',
      reason: 'token_too_long',
      latencyMs: null,
    });
    expect(emsp.requests).toHaveLength(0);
  });

  const rows: [string, Reply, string, string][] = [
    ['ALLOWED', ocpi(1000, info('ALLOWED')), 'allowed', 'active'],
    ['BLOCKED', ocpi(1000, info('BLOCKED')), 'not_allowed', 'blocked'],
    ['EXPIRED', ocpi(1000, info('EXPIRED')), 'not_allowed', 'expired'],
    ['NO_CREDIT', ocpi(1000, info('NO_CREDIT')), 'not_allowed', 'no_credit'],
    ['NOT_ALLOWED', ocpi(1000, info('NOT_ALLOWED')), 'not_allowed', 'not_at_this_station'],
    ['HTTP 404 with an OCPI body', ocpi(2004, undefined, 404), 'invalid', 'unknown_token'],
    ['HTTP 404 with any body', { status: 404, body: '<html>' }, 'invalid', 'unknown_token'],
    ['status_code 2004', ocpi(2004), 'invalid', 'unknown_token'],
    ['status_code 2001', ocpi(2001), 'unknown', 'ocpi_status_2001'],
    ['status_code 2003', ocpi(2003), 'unknown', 'ocpi_status_2003'],
    ['status_code 3000', ocpi(3000), 'unknown', 'ocpi_status_3000'],
    ['status_code 4001', ocpi(4001), 'unknown', 'ocpi_status_4001'],
    ['HTTP 503', { status: 503, body: '' }, 'unknown', 'http_503'],
    ['HTTP 401', ocpi(2000, undefined, 401), 'unknown', 'http_401'],
    ['a body that is not JSON', { status: 200, body: 'ok' }, 'unknown', 'malformed_body'],
    ['JSON without status_code', { status: 200, body: '{"data":{}}' }, 'unknown', 'malformed_body'],
    ['1000 without data', ocpi(1000), 'unknown', 'malformed_body'],
    ['an AllowedType OCPI lacks', ocpi(1000, info('MAYBE')), 'unknown', 'unexpected_status'],
  ];

  it.each(rows)('maps %s', async (_name, reply, decision, reason) => {
    emsp.script = () => reply;
    expect(await decide()).toMatchObject({ decision, reason });
  });

  it('answers unknown with reason timeout when the eMSP does not answer in time', async () => {
    emsp.script = () => 'hang';
    expect(await decide()).toMatchObject({ decision: 'unknown', reason: 'timeout' });
  });

  it('keeps the authorization reference, the allowed EVSEs and the display text', async () => {
    emsp.script = () =>
      ocpi(
        1000,
        info('ALLOWED', {
          authorization_reference: 'ref-0001',
          location: { location_id: STATION, evse_uids: ['NL*CPO*E1', 'NL*CPO*E2'] },
          info: { language: 'nl', text: 'Welkom \u202e' },
        }),
      );
    expect((await decide()).details).toEqual({
      authorizationReference: 'ref-0001',
      allowedEvses: ['NL*CPO*E1', 'NL*CPO*E2'],
      displayText: { language: 'nl', text: 'Welkom' },
    });
  });

  it('keeps nothing an answer does not give, and never the driver token', async () => {
    emsp.script = () =>
      ocpi(1000, info('BLOCKED', { authorization_reference: `x${TOKEN}`, info: { text: 1 } }));
    expect((await decide()).details).toEqual({
      authorizationReference: 'x[redacted]',
      allowedEvses: null,
      displayText: null,
    });
  });
});
