import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, runCli, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { getSession, startBody, startSession, STATION } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { loadConfig } from '../src/config/config.js';

/** The demo tokens of the bundled ACL (acl/example.json) and what docs/acl.md says of them. */
const DEMO: [string, string, string][] = [
  ['DEMO-ALLOWED-0001-abcdefgh', 'allowed', 'active'],
  ['DEMO-BLOCKED-0002-abcdefgh', 'not_allowed', 'blocked'],
  ['DEMO-EXPIRED-0003-abcdefgh', 'not_allowed', 'expired'],
  ['DEMO-EXPIRED-0004-abcdefgh', 'not_allowed', 'expired'],
  ['DEMO-STATION-0005-abcdefgh', 'not_allowed', 'not_at_this_station'],
  ['DEMO-UNTIL-2099-0006-abcdefgh', 'allowed', 'active'],
  ['DEMO-UNKNOWN-9999-abcdefgh', 'invalid', 'unknown_token'],
];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('AUTH_PROTOCOL=ocpi with the bundled ACL, out of the box', () => {
  const dir = tempDir();
  let receiver: ScriptedServer;
  let service: ServiceProcess;

  beforeAll(async () => {
    receiver = await startScriptedServer(() => ({ status: 204 }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      AUTH_PROTOCOL: 'ocpi',
      AUTH_CACHE_TTL: '1m',
    });
  });

  afterAll(async () => {
    await service?.stop();
    await receiver?.close();
    dir.remove();
  });

  async function decided(token: string) {
    const id = await startSession(
      service.url,
      startBody({ driver_token: token }, `${receiver.url}/hook`),
    );
    return waitFor(
      async () => {
        const s = await getSession(service.url, id);
        return s['decision'] !== 'pending' && s;
      },
      { message: `decision of ${id}` },
    );
  }

  it.each(DEMO)('decides %s as %s (%s) over OCPI', async (token, decision, reason) => {
    const session = await decided(token);
    expect(session).toMatchObject({ decision, reason, decision_source: 'service' });
    if (decision === 'invalid') {
      expect(session['authorization_reference']).toBeNull();
    } else {
      expect(session['authorization_reference']).toMatch(UUID);
    }
    if (decision === 'not_allowed') {
      expect(session['display_text']).toMatchObject({ language: 'en' });
    }
  });

  it('reuses a decision within AUTH_CACHE_TTL, with its reference', async () => {
    const first = await decided('DEMO-UNTIL-2099-0006-abcdefgh');
    const again = await decided('DEMO-UNTIL-2099-0006-abcdefgh');
    expect(again).toMatchObject({ decision: 'allowed', decision_source: 'cache' });
    expect(again['authorization_reference']).toBe(first['authorization_reference']);
    expect(again['authorization_latency_ms']).toBeNull();
    const metrics = await (await request(`${service.url}/metrics`)).body.text();
    expect(metrics).toMatch(/chargegate_authorization_cache_total\{result="hit"\} [1-9]/);
  });

  it('refuses OCPI calls without its credentials token', async () => {
    const answer = await request(
      `${service.authServiceUrl ?? ''}/ocpi/emsp/2.2.1/tokens/DEMO-ALLOWED-0001-abcdefgh/authorize`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Token ${Buffer.from('guess').toString('base64')}`,
        },
        body: JSON.stringify({ location_id: STATION }),
      },
    );
    expect(answer.statusCode).toBe(401);
    expect(await answer.body.json()).toMatchObject({ status_code: 2000 });
    expect(service.output()).not.toContain('DEMO-ALLOWED-0001-abcdefgh');
  });
});

describe('OCPI configuration', () => {
  const base = { DATA_DIR: '/tmp/x' };

  it('takes both routing parties, upper-cased, and defaults to today’s contract without a cache', () => {
    const config = loadConfig({ ...base, AUTH_OCPI_FROM: 'nl-cpo', AUTH_OCPI_TO: 'DE-EMS' });
    expect(config.auth).toMatchObject({
      protocol: 'chargegate',
      cacheTtlMs: 0,
      offlinePolicy: 'unknown',
      offlineMaxAgeMs: 86_400_000,
      ocpi: {
        tokenType: 'APP_USER',
        from: { countryCode: 'NL', partyId: 'CPO' },
        to: { countryCode: 'DE', partyId: 'EMS' },
      },
    });
  });

  it('refuses one routing party without the other, and a malformed CC-PID', () => {
    expect(() => loadConfig({ ...base, AUTH_OCPI_FROM: 'NL-CPO' })).toThrow(
      /AUTH_OCPI_TO: required with AUTH_OCPI_FROM/,
    );
    expect(() => loadConfig({ ...base, AUTH_OCPI_TO: 'NL-CPO' })).toThrow(
      /AUTH_OCPI_FROM: required with AUTH_OCPI_TO/,
    );
    expect(() =>
      loadConfig({ ...base, AUTH_OCPI_FROM: 'NLD-CPO', AUTH_OCPI_TO: 'DE-EMSP' }),
    ).toThrow(/AUTH_OCPI_FROM: expected CC-PID[\s\S]*AUTH_OCPI_TO: expected CC-PID/);
  });

  it('reads the cache TTL and the offline policy', () => {
    const config = loadConfig({
      ...base,
      AUTH_CACHE_TTL: '15s',
      AUTH_OFFLINE_POLICY: 'last_known',
      AUTH_OFFLINE_MAX_AGE: '2h',
    });
    expect(config.auth).toMatchObject({
      cacheTtlMs: 15_000,
      offlinePolicy: 'last_known',
      offlineMaxAgeMs: 7_200_000,
    });
  });
});

describe('a worker speaking OCPI to another process', () => {
  it('refuses to start without AUTH_OCPI_TOKEN, naming it', async () => {
    const dir = tempDir();
    try {
      const { code, output } = await runCli(['worker'], {
        ...baseEnv(dir.path),
        AUTH_PROTOCOL: 'ocpi',
        AUTH_SERVICE_URL: 'http://127.0.0.1:9/ocpi/emsp/2.2.1/tokens',
      });
      expect(code).toBe(1);
      expect(output).toContain('AUTH_OCPI_TOKEN: required with AUTH_PROTOCOL=ocpi');
    } finally {
      dir.remove();
    }
  });
});
