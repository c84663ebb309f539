import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { getSession, startBody, startSession, STATION } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

describe('start with the bundled reference authorization service', () => {
  let service: ServiceProcess | undefined;
  let receiver: ScriptedServer | undefined;
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await service?.stop();
    await receiver?.close();
    dir.remove();
  });

  it('decides allowed, not_allowed and invalid from the example ACL, as the README shows', async () => {
    receiver = await startScriptedServer(() => ({ status: 200 }));
    service = await spawnService('start', baseEnv(dir.path));
    expect(service.authServiceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const cases = [
      ['DEMO-ALLOWED-0001-abcdefgh', 'allowed', 'active'],
      ['DEMO-BLOCKED-0002-abcdefgh', 'not_allowed', 'blocked'],
      ['DEMO-EXPIRED-0004-abcdefgh', 'not_allowed', 'expired'],
      ['DEMO-STATION-0005-abcdefgh', 'not_allowed', 'not_at_this_station'],
      ['NOT-IN-THE-ACL-0000-abcdefgh', 'invalid', 'unknown_token'],
    ] as const;
    const ids = await Promise.all(
      cases.map(([token]) =>
        startSession(service!.url, startBody({ driver_token: token }, receiver!.url)),
      ),
    );
    await waitFor(() => receiver!.requests.length === cases.length, { message: 'all callbacks' });
    for (const [index, [token, decision, reason]] of cases.entries()) {
      const id = ids[index]!;
      expect(await getSession(service.url, id)).toMatchObject({ decision, reason });
      const callback = receiver.requests.find((r) => r.headers['webhook-id'] === id);
      expect(JSON.parse(callback?.body ?? '')).toEqual({
        station_id: STATION,
        driver_token: token,
        status: decision,
      });
    }
  });
});

describe('callback retries', () => {
  let service: ServiceProcess | undefined;
  let receiver: ScriptedServer | undefined;
  let dir: ReturnType<typeof tempDir>;

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await service?.stop();
    await receiver?.close();
    dir.remove();
  });

  it('retries a failing receiver on the schedule until it answers 2xx, showing every attempt', async () => {
    receiver = await startScriptedServer((_, index) =>
      index < 2 ? { status: 500, body: 'down for maintenance' } : { status: 200 },
    );
    const operator = 'operator-token-0123456789';
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_RETRY_SCHEDULE: '100ms,100ms,100ms',
      ADMIN_TOKEN: operator,
    });
    const id = await startSession(service.url, startBody({}, receiver.url));
    const session = await waitFor(async () => {
      const s = await getSession(service!.url, id, operator);
      return (s['callback'] as { state: string }).state === 'delivered' && s;
    });
    const callback = session['callback'] as {
      attempts: number;
      history: { status_code: number; response_snippet: string | null }[];
    };
    expect(callback.attempts).toBe(3);
    expect(callback.history.map((h) => h.status_code)).toEqual([500, 500, 200]);
    expect(callback.history[0]?.response_snippet).toBe('down for maintenance');
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([id]));
    expect(new Set(receiver.requests.map((r) => r.body)).size).toBe(1);
  });

  it('dead-letters the callback when the schedule is exhausted, and the GET says so', async () => {
    receiver = await startScriptedServer(() => ({ status: 503 }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_RETRY_SCHEDULE: '50ms',
    });
    const id = await startSession(service.url, startBody({}, receiver.url));
    const session = await waitFor(async () => {
      const s = await getSession(service!.url, id);
      return (s['callback'] as { state: string }).state === 'dead_lettered' && s;
    });
    expect(session['callback']).toMatchObject({ attempts: 2 });
    expect(receiver.requests).toHaveLength(2);
  });

  it('stops retrying when the receiver answers 410 Gone', async () => {
    receiver = await startScriptedServer(() => ({ status: 410 }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_RETRY_SCHEDULE: '50ms,50ms',
    });
    const id = await startSession(service.url, startBody({}, receiver.url));
    await waitFor(
      async () =>
        ((await getSession(service!.url, id))['callback'] as { state: string }).state === 'gone',
    );
    expect(receiver.requests).toHaveLength(1);
  });
});
