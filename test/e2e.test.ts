import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclScript, startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { getSession, startBody, startSession, STATION } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

const TOKENS = {
  allowed: 'e2e-allowed-token-000001',
  notAllowed: 'e2e-blocked-token-000002',
  invalid: 'e2e-unknown-token-000003',
  hang: 'e2e-hanging-token-000004',
  http500: 'e2e-http-500-token-000005',
  garbage: 'e2e-non-json-token-000006',
  outOfSet: 'e2e-maybe-token-00000007',
};

describe('the whole flow, end to end, with a scripted authorization service', () => {
  const dir = tempDir();
  let auth: ScriptedServer;
  let receiver: ScriptedServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    const acl = aclScript({
      [TOKENS.allowed]: { status: 'allowed', reason: 'active' },
      [TOKENS.notAllowed]: { status: 'not_allowed', reason: 'blocked' },
    });
    auth = await startScriptedServer((request, index) => {
      const token = (JSON.parse(request.body) as { driver_token: string }).driver_token;
      if (token === TOKENS.hang) return 'hang';
      if (token === TOKENS.http500) return { status: 500, body: '{"status":"allowed"}' };
      if (token === TOKENS.garbage) return { status: 200, body: '<html>oops</html>' };
      if (token === TOKENS.outOfSet)
        return { status: 200, body: '{"status":"maybe","reason":"?"}' };
      return acl(request, index);
    });
    receiver = await startScriptedServer(() => ({ status: 204 }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: `${auth.url}/authorize`,
      AUTH_TIMEOUT_MS: '500',
    });
  });

  afterAll(async () => {
    await service?.stop();
    await auth?.close();
    await receiver?.close();
    dir.remove();
  });

  async function decide(token: string) {
    const id = await startSession(
      service.url,
      startBody({ driver_token: token }, `${receiver.url}/hook`),
    );
    const session = await waitFor(
      async () => {
        const s = await getSession(service.url, id);
        return (s['callback'] as { state: string }).state === 'delivered' && s;
      },
      { message: `callback of ${id} delivered` },
    );
    const callbacks = receiver.requests.filter((r) => r.headers['webhook-id'] === id);
    return { id, session, callbacks };
  }

  it.each([
    ['allowed', 'active', TOKENS.allowed],
    ['not_allowed', 'blocked', TOKENS.notAllowed],
    ['invalid', 'unknown_token', TOKENS.invalid],
    ['unknown', 'timeout', TOKENS.hang],
    ['unknown', 'http_500', TOKENS.http500],
    ['unknown', 'malformed_body', TOKENS.garbage],
    ['unknown', 'unexpected_status', TOKENS.outOfSet],
  ])(
    'decides %s (reason %s) and calls back with exactly station, token and status',
    async (decision, reason, token) => {
      const { session, callbacks } = await decide(token);
      expect(session).toMatchObject({ decision, reason, station_id: STATION });
      expect(session['decided_at']).not.toBeNull();
      expect(typeof session['authorization_latency_ms']).toBe('number');
      expect(callbacks).toHaveLength(1);
      const callback = callbacks[0]!;
      expect(callback.method).toBe('POST');
      expect(callback.url).toBe('/hook');
      expect(callback.headers['content-type']).toBe('application/json');
      expect(JSON.parse(callback.body)).toEqual({
        station_id: STATION,
        driver_token: token,
        status: decision,
      });
      expect(Object.keys(JSON.parse(callback.body) as object)).toEqual([
        'station_id',
        'driver_token',
        'status',
      ]);
    },
  );

  it('sends the authorization service the contract body and the request id', async () => {
    const { id } = await decide(TOKENS.allowed);
    const call = auth.requests.find((r) => r.headers['x-request-id'] === id);
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe('/authorize');
    expect(JSON.parse(call?.body ?? '')).toEqual({
      station_id: STATION,
      driver_token: TOKENS.allowed,
    });
  });

  it('never writes a raw driver token to its logs', () => {
    const output = service.output();
    // The logs were captured (a decision line per request), so the absence below means something.
    expect(output).toContain('request decided');
    for (const token of Object.values(TOKENS)) expect(output).not.toContain(token);
  });
});

describe('the whole flow when the authorization service is unreachable', () => {
  it('decides unknown with reason connection_refused', async () => {
    const dir = tempDir();
    // Take a free port, then close it, so that connecting is refused.
    const closed = await startScriptedServer(() => ({ status: 200 }));
    const refusedUrl = `${closed.url}/authorize`;
    await closed.close();
    const receiver = await startScriptedServer(() => ({ status: 200 }));
    const service = await spawnService('start', {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: refusedUrl,
    });
    try {
      const id = await startSession(service.url, startBody({}, receiver.url));
      const session = await waitFor(async () => {
        const s = await getSession(service.url, id);
        return s['decision'] !== 'pending' && s;
      });
      expect(session).toMatchObject({ decision: 'unknown', reason: 'connection_refused' });
      await waitFor(() => receiver.requests.length === 1);
      expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({ status: 'unknown' });
    } finally {
      await service.stop();
      await receiver.close();
      dir.remove();
    }
  });
});
