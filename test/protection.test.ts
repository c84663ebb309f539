import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { burstFor } from '../src/lib/rate-limit.js';

const allow = () => ({ status: 200, body: '{"status":"allowed","reason":"active"}' });
const slowly = (ms: number) => () =>
  new Promise<ReturnType<typeof allow>>((r) => setTimeout(() => r(allow()), ms));

/** Posts `count` requests, `parallel` at a time; returns ids and each POST's latency. */
async function post(url: string, callbackUrl: string, count: number, parallel = 16) {
  const ids: string[] = [];
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next += 1;
        const started = performance.now();
        ids.push(
          await startSession(
            url,
            startBody(
              { driver_token: `protect-token-${String(next).padStart(8, '0')}` },
              callbackUrl,
            ),
          ),
        );
        latencies.push(performance.now() - started);
      }
    }),
  );
  return { ids, latencies };
}

/** Waits until every request's callback has arrived, then reads their sessions once. */
async function decisions(url: string, ids: string[], receiver: ScriptedServer) {
  await waitFor(
    () => ids.every((id) => receiver.requests.some((r) => r.headers['webhook-id'] === id)),
    { timeoutMs: 20_000, message: 'a callback for every request' },
  );
  return Promise.all(ids.map((id) => getSession(url, id)));
}

describe('protecting the authorization service', () => {
  let dir: ReturnType<typeof tempDir>;
  let auth: ScriptedServer;
  let receiver: ScriptedServer;
  let service: ServiceProcess | undefined;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await startScriptedServer(() => ({ status: 204 }));
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await auth.close();
    await receiver.close();
    dir.remove();
  });

  function start(script: Parameters<typeof startScriptedServer>[0], env: Record<string, string>) {
    return startScriptedServer(script).then(async (server) => {
      auth = server;
      service = await spawnService('start', {
        ...baseEnv(dir.path),
        AUTH_SERVICE_URL: `${server.url}/authorize`,
        ...env,
      });
      return service;
    });
  }

  it('never has more calls in flight than AUTH_MAX_IN_FLIGHT, whatever the backlog', async () => {
    const svc = await start(slowly(40), { AUTH_MAX_IN_FLIGHT: '4' });
    const { ids } = await post(svc.url, receiver.url, 300, 32);
    await decisions(svc.url, ids, receiver);
    expect(auth.requests).toHaveLength(300);
    expect(auth.maxInFlight).toBe(4);
  });

  it('spaces calls to at most AUTH_RATE_LIMIT_PER_SEC', async () => {
    // The backlog is queued by an API process first; only then does a worker process start, so the
    // burst of POSTs shares no event loop with the calls being timed.
    auth = await startScriptedServer(allow);
    const env = { ...baseEnv(dir.path), AUTH_SERVICE_URL: `${auth.url}/authorize` };
    const api = await spawnService('api', env);
    service = api;
    const { ids } = await post(api.url, receiver.url, 50);
    const worker = await spawnService(
      'worker',
      { ...env, AUTH_RATE_LIMIT_PER_SEC: '20' },
      { waitFor: 'worker' },
    );
    try {
      await decisions(api.url, ids, receiver);
    } finally {
      await worker.stop();
    }
    const times = auth.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    // Times are taken where the stub receives the call, not where the limiter lets it go: allow for
    // delivery jitter on a loaded machine (the limiter's exact bound is in rate-limit.test.ts).
    const JITTER_MS = 250;
    const bound = 20 + burstFor(20) + Math.ceil(JITTER_MS / 50);
    for (const [i, t] of times.entries()) {
      expect(times.filter((u, j) => j >= i && u < t + 1_000).length).toBeLessThanOrEqual(bound);
    }
    // 50 calls with a burst of 2 need 48 intervals of 50 ms at the limiter.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(48 * 50 - JITTER_MS);
  });

  it('opens the circuit after repeated failures, answers circuit_open without calling, and closes after a good probe', async () => {
    const svc = await start(() => ({ status: 500 }), {
      AUTH_MAX_IN_FLIGHT: '1',
      AUTH_CIRCUIT_FAILURE_THRESHOLD: '3',
      AUTH_CIRCUIT_OPEN_MS: '1000',
    });
    const first = await post(svc.url, receiver.url, 10, 1);
    const decided = await decisions(svc.url, first.ids, receiver);
    // Three calls fail and open the circuit; the other seven are answered without a call (the
    // queue is only roughly FIFO, so which seven is not asserted).
    const reasons = decided.map((s) => s['reason']);
    expect(reasons.filter((reason) => reason === 'http_500')).toHaveLength(3);
    expect(reasons.filter((reason) => reason === 'circuit_open')).toHaveLength(7);
    expect(decided.every((s) => s['decision'] === 'unknown')).toBe(true);
    expect(auth.requests).toHaveLength(3);
    const ready = await call(svc.url, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json()['details']).toEqual({ authorization_circuit: 'open' });
    expect((await call(svc.url, 'GET', '/metrics')).text).toMatch(
      /chargegate_authorization_circuit_state\{state="open"\} 1/,
    );

    auth.script = allow;
    const probe = await waitFor(
      async () => {
        const id = await startSession(svc.url, startBody({}, receiver.url));
        const [session] = await decisions(svc.url, [id], receiver);
        return session?.['decision'] === 'allowed' && session;
      },
      { timeoutMs: 10_000, message: 'a probe after the open interval' },
    );
    expect(probe['reason']).toBe('active');
    expect((await call(svc.url, 'GET', '/health/ready')).json()['details']).toEqual({
      authorization_circuit: 'closed',
    });
  });

  it('decides requests older than REQUEST_DEADLINE_MS unknown without calling the service', async () => {
    const svc = await start(slowly(300), { AUTH_MAX_IN_FLIGHT: '1', REQUEST_DEADLINE_MS: '500' });
    const { ids } = await post(svc.url, receiver.url, 10, 10);
    const decided = await decisions(svc.url, ids, receiver);
    const late = decided.filter((s) => s['reason'] === 'deadline_exceeded');
    expect(late.length).toBeGreaterThan(0);
    expect(
      late.every((s) => s['decision'] === 'unknown' && s['authorization_latency_ms'] === null),
    ).toBe(true);
    expect(auth.requests.length).toBe(10 - late.length);
  });

  it('keeps answering 202 promptly while the service hangs, and decides every request unknown within the timeout', async () => {
    const svc = await start(() => 'hang', { AUTH_TIMEOUT_MS: '1000' });
    const { ids, latencies } = await post(svc.url, receiver.url, 60, 8);
    expect(ids).toHaveLength(60);
    expect(Math.max(...latencies)).toBeLessThan(1_000);
    const decided = await decisions(svc.url, ids, receiver);
    for (const session of decided) {
      expect(session['decision']).toBe('unknown');
      expect(['timeout', 'circuit_open']).toContain(session['reason']);
      const waited =
        Date.parse(session['decided_at'] as string) - Date.parse(session['accepted_at'] as string);
      expect(waited).toBeLessThan(1_000 + 1_500);
    }
    await waitFor(() => receiver.requests.length === 60, { message: 'all callbacks' });
  });
});
