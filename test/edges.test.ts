import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

const PATH = '/api/v1/charging-sessions';
const ADMIN = 'admin-token-0123456789abcdef';
const ACL_ADMIN = 'acl-admin-token-0123456789ab';

/** A connection that sends headers announcing 16,000 bytes, then one byte every `everyMs`. */
function slowDripClient(url: string, everyMs: number) {
  const { port } = new URL(url);
  const socket = net.connect({ port: Number(port), host: '127.0.0.1' });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.write(
    `POST ${PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 16000\r\n\r\n{`,
  );
  const drip = setInterval(() => socket.write(' '), everyMs);
  void closed.then(() => clearInterval(drip));
  return {
    closed,
    received: () => received,
    destroy: () => {
      clearInterval(drip);
      socket.destroy();
    },
  };
}

/** Opens a TCP connection and resolves once it is established (or closed at once). */
function openConnection(url: string) {
  const { port } = new URL(url);
  const socket = net.connect({ port: Number(port), host: '127.0.0.1' });
  socket.on('error', () => {});
  let isClosed = false;
  socket.on('close', () => (isClosed = true));
  return {
    socket,
    connected: new Promise<void>((resolve) => socket.on('connect', () => resolve())),
    isClosed: () => isClosed,
  };
}

describe('the public API at its edges', () => {
  let dir: ReturnType<typeof tempDir>;
  let service: ServiceProcess | undefined;
  const cleanups: (() => void)[] = [];

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    await service?.stop('SIGKILL');
    service = undefined;
    dir.remove();
  });

  it('cuts off a client that has not sent its whole request within the request timeout', async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      HTTP_REQUEST_TIMEOUT_MS: '1000',
    });
    const client = slowDripClient(service.url, 200);
    cleanups.push(client.destroy);
    const openedAt = Date.now();
    const closedAt = await Promise.race([
      client.closed,
      new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), 8_000)),
    ]);
    // Node checks its connections once a second: cut off within the timeout plus that.
    expect(closedAt - openedAt).toBeLessThan(4_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  }, 20_000);

  it('exits 0 within SHUTDOWN_TIMEOUT_MS on SIGTERM though a client never finishes its request', async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      HTTP_REQUEST_TIMEOUT_MS: '120000',
      SHUTDOWN_TIMEOUT_MS: '2000',
    });
    const client = slowDripClient(service.url, 500);
    cleanups.push(client.destroy);
    // The request is in flight: the server has its headers (a health check on another
    // connection after the first bytes is answered only after those were read).
    await call(service.url, 'GET', '/health/live');
    const signalledAt = Date.now();
    const exited = await service.stop('SIGTERM');
    expect(exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(2_000 + 3_000);
  }, 20_000);

  it('closes connections past the per-client cap at once, and takes new ones when some close', async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      HTTP_MAX_CONNECTIONS_PER_CLIENT: '3',
    });
    const held = [1, 2, 3].map(() => openConnection(service!.url));
    cleanups.push(() => held.forEach((c) => c.socket.destroy()));
    await Promise.all(held.map((c) => c.connected));
    // Each of the three is known to the server once it answers a request on it.
    const extra = openConnection(service.url);
    cleanups.push(() => extra.socket.destroy());
    await waitFor(() => extra.isClosed(), {
      message: 'the fourth connection closed by the server',
    });
    expect(held.some((c) => c.isClosed())).toBe(false);
    held[0]!.socket.destroy();
    await waitFor(async () => (await call(service!.url, 'GET', '/health/live')).status === 200, {
      message: 'a new connection served once one of the three closed',
    });
  }, 20_000);

  it('answers 429 with Retry-After past the per-client rate limit, on POST and GET alike', async () => {
    service = await spawnService('start', { ...baseEnv(dir.path), API_RATE_LIMIT_PER_SEC: '2' });
    const answers = [];
    for (let i = 0; i < 6; i += 1) {
      answers.push(await call(service.url, 'POST', PATH, { body: startBody() }));
    }
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 202).length).toBeGreaterThanOrEqual(2);
    const first = limited[0]!;
    expect(first.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(first.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(first.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const read = await call(service.url, 'GET', `${PATH}/01234567-89ab-7def-8123-456789abcdef`);
    expect([404, 429]).toContain(read.status);
    // Health and metrics are not the public API's: never limited.
    expect((await call(service.url, 'GET', '/health/live')).status).toBe(200);
  }, 20_000);

  it('serves /metrics only on METRICS_PORT when it is set', async () => {
    service = await spawnService('start', { ...baseEnv(dir.path), METRICS_PORT: '0' });
    const metricsUrl = await waitFor(
      () => service!.logs().find((l) => l['msg'] === 'metrics listening')?.['url'] as string,
    );
    expect((await call(service.url, 'GET', '/metrics')).status).toBe(404);
    const scraped = await call(metricsUrl, 'GET', '/metrics');
    expect(scraped.status).toBe(200);
    expect(scraped.text).toContain('chargegate_requests_accepted_total');
  }, 20_000);

  it('keeps the admin and ACL-admin credentials apart, and holds off an address that keeps failing', async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      ADMIN_TOKEN: ADMIN,
      ACL_ADMIN_TOKEN: ACL_ADMIN,
    });
    const acl = service.authServiceUrl!;
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    expect((await call(acl, 'GET', '/admin/v1/acl/entries', bearer(ADMIN))).status).toBe(401);
    expect((await call(acl, 'GET', '/admin/v1/acl/entries', bearer(ACL_ADMIN))).status).toBe(200);
    expect(
      (await call(service.url, 'GET', '/admin/v1/dead-letters', bearer(ACL_ADMIN))).status,
    ).toBe(401);
    expect((await call(service.url, 'GET', '/admin/v1/dead-letters', bearer(ADMIN))).status).toBe(
      200,
    );
    // Ten failures in a minute (one is above): then even the right token waits.
    for (let i = 0; i < 9; i += 1) {
      await call(service.url, 'GET', '/admin/v1/dead-letters', bearer(`guess-${i}-000000000000`));
    }
    const held = await call(service.url, 'GET', '/admin/v1/dead-letters', bearer(ADMIN));
    expect(held.status).toBe(429);
    expect(held.json()).toMatchObject({ code: 'ADMIN_TOO_MANY_FAILURES' });
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(0);
    // The ACL admin API counts its own failures (one so far).
    expect((await call(acl, 'GET', '/admin/v1/acl/entries', bearer(ACL_ADMIN))).status).toBe(200);
  }, 20_000);

  it('keeps DATA_DIR owner-only (0700) and every file in it 0600', async () => {
    const data = join(dir.path, 'data');
    service = await spawnService('start', { ...baseEnv(data), ADMIN_TOKEN: ADMIN });
    await call(service.url, 'POST', PATH, { body: startBody() });
    expect(statSync(data).mode & 0o777).toBe(0o700);
    const files = readdirSync(data);
    expect(files).toEqual(expect.arrayContaining(['queue.db', 'store.db', 'acl.db']));
    expect(files.some((f) => f.endsWith('-wal'))).toBe(true);
    for (const file of files) {
      expect(statSync(join(data, file)).mode & 0o777, file).toBe(0o600);
    }
  }, 20_000);

  it('refuses http callback URLs with CALLBACK_REQUIRE_HTTPS, naming the field', async () => {
    service = await spawnService('start', { ...baseEnv(dir.path), CALLBACK_REQUIRE_HTTPS: 'true' });
    const plain = await call(service.url, 'POST', PATH, {
      body: startBody({}, 'http://127.0.0.1:9/cb'),
    });
    expect(plain.status).toBe(400);
    expect(plain.json()).toMatchObject({
      code: 'REQUEST_INVALID',
      errors: [expect.objectContaining({ field: 'callback_url' })],
    });
    const secure = await call(service.url, 'POST', PATH, {
      body: startBody({}, 'https://127.0.0.1:9/cb'),
    });
    expect(secure.status).toBe(202);
  }, 20_000);
});
