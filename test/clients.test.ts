import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { chromium } from 'playwright-core';
import { startScriptedServer, type RecordedRequest, type ScriptedServer } from './helpers/http.js';
import { baseEnv, runCli, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import {
  DATABASE_URL,
  REDIS_URL,
  distributedSettings,
  postgresAvailable,
  redisAvailable,
} from './helpers/servers.js';

const haveServers = (await redisAvailable()) && (await postgresAvailable());
const PATH = '/api/v1/charging-sessions';
const ADMIN = 'admin-token-for-clients-0123456';
const CHROMIUM = '/usr/bin/chromium';

interface Made {
  name: string;
  key: string;
  secret: string;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function verifies(secret: string, request: RecordedRequest): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

const modes = [
  { mode: 'embedded', skip: false },
  { mode: 'distributed', skip: !haveServers },
] as const;

for (const { mode, skip } of modes) {
  describe.skipIf(skip)(`API clients (${mode})`, () => {
    let dir: ReturnType<typeof tempDir>;
    let receiver: ScriptedServer;
    let env: Record<string, string>;
    let service: ServiceProcess;
    const others: ServiceProcess[] = [];
    let cleanupServers = async () => {};

    beforeEach(async () => {
      dir = tempDir();
      receiver = await startScriptedServer(() => ({ status: 204 }));
      env = { ...baseEnv(dir.path), ADMIN_TOKEN: ADMIN };
      if (mode === 'distributed') {
        const settings = distributedSettings();
        env = { ...env, REDIS_URL, DATABASE_URL, ...settings.env };
        cleanupServers = () => settings.cleanup();
      }
      service = await spawnService('start', env);
    }, 30_000);

    afterEach(async () => {
      for (const other of others.splice(0)) await other.stop('SIGKILL');
      await service.stop('SIGKILL');
      await receiver.close();
      await cleanupServers();
      dir.remove();
    });

    async function makeClient(name: string, hosts = ['127.0.0.1']): Promise<Made> {
      const answer = await call(service.url, 'POST', '/admin/v1/clients', {
        headers: bearer(ADMIN),
        body: { name, callback_hosts: hosts },
      });
      expect(answer.status, answer.text).toBe(201);
      const body = answer.json();
      return { name, key: body['api_key'] as string, secret: body['webhook_secret'] as string };
    }

    const start = (client: Made | null, body: object, headers: Record<string, string> = {}) =>
      call(service.url, 'POST', PATH, {
        body,
        headers: { ...(client === null ? {} : bearer(client.key)), ...headers },
      });

    it('requires a key once a client exists, keeps clients apart, and signs with their own secrets', async () => {
      // No client yet: as before.
      expect((await start(null, startBody({}, `${receiver.url}/before`))).status).toBe(202);
      const a = await makeClient('app-a');
      const b = await makeClient('app-b');

      const missing = await start(null, startBody({}, `${receiver.url}/a`));
      expect(missing.status).toBe(401);
      expect(missing.json()).toMatchObject({ code: 'CLIENT_UNAUTHORIZED' });
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await start({ ...a, key: 'cgk_wrong' }, startBody())).status).toBe(401);

      // A callback host outside the client's list: a 400 naming the field.
      const outside = await start(a, startBody({}, 'http://other.example/cb'));
      expect(outside.status).toBe(400);
      expect(outside.json()['errors']).toEqual([
        expect.objectContaining({ field: 'callback_url' }),
      ]);

      const key = { 'idempotency-key': 'order-1' };
      const mine = await start(a, startBody({}, `${receiver.url}/a`), key);
      expect(mine.status).toBe(202);
      const id = mine.json()['request_id'] as string;
      // B: the same key is its own (a new request, no replay); it cannot read A's request.
      const theirs = await start(b, startBody({}, `${receiver.url}/b`), key);
      expect(theirs.status).toBe(202);
      expect(theirs.json()['request_id']).not.toBe(id);
      expect(theirs.headers['idempotent-replayed']).toBeUndefined();
      const read = await call(service.url, 'GET', `${PATH}/${id}`, { headers: bearer(b.key) });
      expect(read.status).toBe(404);
      expect(
        (await call(service.url, 'GET', `${PATH}/${id}`, { headers: bearer(a.key) })).status,
      ).toBe(200);
      // A's replay is still A's.
      const replay = await start(a, startBody({}, `${receiver.url}/a`), key);
      expect(replay.json()['request_id']).toBe(id);

      await waitFor(() => receiver.requests.filter((r) => r.url !== '/before').length >= 2, {
        message: "both clients' callbacks",
      });
      const toA = receiver.requests.find((r) => r.url === '/a')!;
      const toB = receiver.requests.find((r) => r.url === '/b')!;
      expect(verifies(a.secret, toA)).toBe(true);
      expect(verifies(b.secret, toA)).toBe(false);
      expect(verifies(b.secret, toB)).toBe(true);
      expect(verifies(a.secret, toB)).toBe(false);

      // Metrics and logs name the client, never a key.
      const metrics = await call(service.url, 'GET', '/metrics');
      expect(metrics.text).toContain(
        'chargegate_client_requests_total{client="app-a",outcome="accepted"} 1',
      );
      expect(service.output()).not.toContain(a.key);
      expect(service.output()).not.toContain(b.key);
    }, 60_000);

    it('signs with both secrets during a rotation, and either verifies', async () => {
      const a = await makeClient('app-a');
      const rotated = await call(service.url, 'POST', '/admin/v1/clients/app-a/webhook-secrets', {
        headers: bearer(ADMIN),
        body: { overlap: '1h' },
      });
      expect(rotated.status).toBe(201);
      const fresh = rotated.json()['webhook_secret'] as string;
      expect(await start(a, startBody({}, `${receiver.url}/rotated`))).toMatchObject({
        status: 202,
      });
      const request = await waitFor(() => receiver.requests.find((r) => r.url === '/rotated'));
      expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(verifies(a.secret, request)).toBe(true);
      expect(verifies(fresh, request)).toBe(true);
    }, 60_000);

    it.skipIf(mode !== 'embedded' || (!existsSync(CHROMIUM) && process.env['CI'] !== 'true'))(
      'shows the clients in the console, with key prefixes but never a key',
      async () => {
        const a = await makeClient('app-a', ['127.0.0.1', '*.hooks.example']);
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        });
        try {
          const page = await browser.newPage();
          await page.goto(`${service.url}/console`);
          await page.getByTestId('token-input').fill(ADMIN);
          await page.getByTestId('login-submit').click();
          const row = page.locator('[data-testid="clients"] tr[data-client="app-a"]');
          await row.waitFor({ timeout: 15_000 });
          const text = (await row.textContent()) ?? '';
          expect(text).toContain('127.0.0.1, *.hooks.example');
          expect(text).toContain(`${a.key.slice(0, 12)}…`);
          expect(await page.getByTestId('clients-empty').isHidden()).toBe(true);
          expect(await page.content()).not.toContain(a.key);
          expect(await page.content()).not.toContain(a.secret);
        } finally {
          await browser.close();
        }
      },
      60_000,
    );

    it('lets every API process see a new client within a few seconds', async () => {
      const second = await spawnService('api', env);
      others.push(second);
      expect((await call(second.url, 'POST', PATH, { body: startBody() })).status).toBe(202);
      const a = await makeClient('app-a');
      const seenAt = Date.now();
      await waitFor(
        async () => (await call(second.url, 'POST', PATH, { body: startBody() })).status === 401,
        { timeoutMs: 5_000, message: 'the other process requiring a key' },
      );
      expect(Date.now() - seenAt).toBeLessThan(5_000);
      const withKey = await call(second.url, 'POST', PATH, {
        body: startBody({}, `${receiver.url}/second`),
        headers: bearer(a.key),
      });
      expect(withKey.status).toBe(202);
    }, 60_000);
  });
}

describe('REQUIRE_CLIENTS', () => {
  it('refuses to start without a client, and starts once one is made with the CLI', async () => {
    const dir = tempDir();
    try {
      const env = { ...baseEnv(dir.path), REQUIRE_CLIENTS: 'true' };
      await expect(spawnService('start', env, { timeoutMs: 10_000 })).rejects.toThrow(
        /REQUIRE_CLIENTS/,
      );
      const made = await runCli(
        ['clients', 'create', 'driver-app', '--hosts', '*.example.com'],
        env,
      );
      expect(made.code, made.output).toBe(0);
      const created = JSON.parse(made.output) as { api_key: string };
      expect(created.api_key).toMatch(/^cgk_/);
      const service = await spawnService('start', env);
      try {
        const answer = await call(service.url, 'POST', PATH, {
          body: startBody({}, 'https://hooks.example.com/cb'),
          headers: bearer(created.api_key),
        });
        expect(answer.status).toBe(202);
      } finally {
        await service.stop();
      }
    } finally {
      dir.remove();
    }
  }, 60_000);
});
