import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { createSqliteStore } from '../src/store/sqlite.js';

const allow = () => ({ status: 200, body: '{"status":"allowed","reason":"active"}' });

/** Sends `count` requests, `parallel` at a time; returns the ids that got a 202. */
async function burst(
  url: string,
  callbackUrl: string,
  count: number,
  parallel = 16,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next += 1;
        const answer = await call(url, 'POST', '/api/v1/charging-sessions', {
          body: startBody(
            { driver_token: `crash-test-token-${String(next).padStart(6, '0')}` },
            callbackUrl,
          ),
        });
        if (answer.status === 202) ids.push(answer.json()['request_id'] as string);
      }
    }),
  );
  return ids;
}

describe('durability and shutdown', () => {
  let dir: ReturnType<typeof tempDir>;
  let auth: ScriptedServer;
  let receiver: ScriptedServer;
  const services: ServiceProcess[] = [];

  beforeEach(async () => {
    dir = tempDir();
    receiver = await startScriptedServer(() => ({ status: 200 }));
  });

  afterEach(async () => {
    for (const s of services.splice(0)) await s.stop('SIGKILL');
    await auth?.close();
    await receiver.close();
    dir.remove();
  });

  it('loses no acknowledged request when killed with SIGKILL right after a burst', async () => {
    // A slow ACL with few permits keeps most of the burst undecided at the moment of the kill.
    auth = await startScriptedServer(
      () => new Promise((resolve) => setTimeout(() => resolve(allow()), 200)),
    );
    // Short timeouts make short leases, so the messages the killed process held come back soon.
    const env = {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: `${auth.url}/authorize`,
      AUTH_MAX_IN_FLIGHT: '2',
      AUTH_TIMEOUT_MS: '1000',
      CALLBACK_TIMEOUT_MS: '1000',
    };
    const first = await spawnService('start', env);
    services.push(first);
    const acknowledged = await burst(first.url, `${receiver.url}/hook`, 300);
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(acknowledged).toHaveLength(300);
    const deliveredBeforeKill = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
    expect(deliveredBeforeKill.size).toBeLessThan(acknowledged.length);

    auth.script = allow;
    const second = await spawnService('start', { ...env, AUTH_MAX_IN_FLIGHT: '32' });
    services.push(second);
    await waitFor(
      () =>
        acknowledged.every((id) => receiver.requests.some((r) => r.headers['webhook-id'] === id)),
      { timeoutMs: 30_000, message: 'a callback for every acknowledged request' },
    );
    for (const id of acknowledged) {
      const answer = await call(second.url, 'GET', `/api/v1/charging-sessions/${id}`);
      expect(answer.json()).toMatchObject({ decision: 'allowed' });
    }
  }, 60_000);

  it('on SIGTERM stops accepting, finishes in-flight authorizations, and exits 0', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    auth = await startScriptedServer(() => gate.then(allow));
    const env = {
      ...baseEnv(dir.path),
      AUTH_SERVICE_URL: `${auth.url}/authorize`,
      AUTH_MAX_IN_FLIGHT: '4',
    };
    const service = await spawnService('start', env);
    services.push(service);
    const ids = await burst(service.url, `${receiver.url}/hook`, 10, 2);
    await waitFor(() => auth.inFlight === 4, { message: 'four authorization calls in flight' });

    service.child.kill('SIGTERM');
    await waitFor(() => service.logs().some((l) => l['msg']?.toString().startsWith('stopping')));
    const refused = await call(service.url, 'POST', '/api/v1/charging-sessions', {
      body: startBody(),
    }).then(
      (a) => a.status,
      () => 'connection refused',
    );
    expect([503, 'connection refused']).toContain(refused);
    release();
    expect(await service.exited).toEqual({ code: 0, signal: null });

    const inFlight = auth.requests.map((r) => r.headers['x-request-id'] as string);
    const store = createSqliteStore({ file: join(dir.path, 'store.db') });
    try {
      for (const id of inFlight) expect((await store.getSession(id))?.decision).toBe('allowed');
      const pending = await Promise.all(ids.map((id) => store.getSession(id)));
      expect(pending.filter((s) => s?.decision === 'pending')).toHaveLength(
        ids.length - inFlight.length,
      );
    } finally {
      await store.close();
    }
  });
});
