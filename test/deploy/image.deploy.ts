import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startScriptedServer, type RecordedRequest, type ScriptedServer } from '../helpers/http.js';
import { STATION, getSession, startBody, startSession } from '../helpers/client.js';
import { DATABASE_URL, REDIS_URL, deleteRedisKeys, dropSchema } from '../helpers/servers.js';
import { waitFor } from '../helpers/wait.js';
import {
  TEST_LABEL,
  beyondLoopback,
  freePort,
  imageUnderTest,
  logsOf,
  podman,
  removeContainers,
  runContainer,
  socketsOf,
  succeeds,
} from './podman.js';

/**
 * The container image as operators run it, with podman on the host's network: everything the
 * containers talk to (the tests' callback receiver, Redis, PostgreSQL) is on 127.0.0.1, and
 * they listen on 127.0.0.1 only.
 */
const image = imageUnderTest();
const ALLOWED = 'DEMO-ALLOWED-0001-abcdefgh';
/** What the issue asks of a stop: exit 0 within 10 s of SIGTERM. */
const STOP_DEADLINE_MS = 10_000;
/** Start-up on a loaded 2-core machine: Node starts, migrates SQLite, listens. */
const READY_TIMEOUT_MS = 60_000;

function verify(secret: string, request: RecordedRequest): Record<string, unknown> {
  const header = (name: string) => String(request.headers[name]);
  return new Webhook(secret).verify(request.body, {
    'webhook-id': header('webhook-id'),
    'webhook-timestamp': header('webhook-timestamp'),
    'webhook-signature': header('webhook-signature'),
  }) as Record<string, unknown>;
}

/** Waits until the container's own HEALTHCHECK passes (`podman healthcheck run`). */
async function healthy(id: string): Promise<void> {
  await waitFor(() => succeeds('podman', 'healthcheck', 'run', id), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 250,
    message: `container ${id.slice(0, 12)} healthy`,
  }).catch(async (error: unknown) => {
    throw new Error(`${String(error)}; its output:\n${(await logsOf(id)).slice(-4_000)}`);
  });
}

/** Sends SIGTERM and returns the exit code and how long the container took to stop. */
async function terminate(id: string): Promise<{ code: number; ms: number }> {
  const started = Date.now();
  await podman('kill', '--signal', 'TERM', id);
  const code = Number(await podman('wait', id));
  return { code, ms: Date.now() - started };
}

describe('the image in embedded mode', () => {
  const containers: string[] = [];
  const volume = `chargegate-test-${randomBytes(4).toString('hex')}`;
  let receiver: ScriptedServer;
  let env: Record<string, string>;
  let first: string;
  let requestId: string;
  let secret: string;

  beforeAll(async () => {
    receiver = await startScriptedServer(() => ({ status: 204 }));
    await podman('volume', 'create', '--label', TEST_LABEL, volume);
    env = {
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      AUTH_SERVICE_PORT: String(await freePort()),
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    };
    first = await runContainer({ image, command: 'start', env, volume });
    containers.push(first);
  });

  afterAll(async () => {
    await removeContainers(containers);
    await podman('volume', 'rm', '--force', volume);
    await receiver?.close();
  });

  it('runs Node as PID 1, as the unprivileged user, with its data in /data', async () => {
    await healthy(first);
    expect(await podman('exec', first, 'cat', '/proc/1/comm')).toBe('node');
    expect(await podman('exec', first, 'id', '-u')).not.toBe('0');
    expect(await podman('exec', first, 'ls', '/data')).toContain('queue.db');
  });

  it('decides a request, and its signed callback reaches a receiver on the host', async () => {
    await healthy(first);
    const url = `http://127.0.0.1:${env['PORT']}`;
    requestId = await startSession(
      url,
      startBody({ driver_token: ALLOWED }, `${receiver.url}/hook`),
    );
    const callback = await waitFor(() => receiver.requests[0], {
      timeoutMs: 30_000,
      message: 'the callback at the receiver',
    });
    // Without WEBHOOK_SECRET the service generated one in its volume.
    secret = await podman('exec', first, 'cat', '/data/webhook-secret');
    expect(verify(secret, callback)).toEqual({
      station_id: STATION,
      driver_token: ALLOWED,
      status: 'allowed',
    });
    expect(callback.headers['webhook-id']).toBe(requestId);
  });

  it('holds sockets on 127.0.0.1 only', async () => {
    const sockets = await socketsOf(first);
    expect(sockets.some((s) => s.state === 'listen')).toBe(true);
    expect(beyondLoopback(sockets)).toEqual([]);
  });

  it('stops on SIGTERM with exit code 0 within 10 s', async () => {
    const { code, ms } = await terminate(first);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(STOP_DEADLINE_MS);
    expect(await logsOf(first)).toContain('"msg":"stopped"');
  });

  it('keeps its data in the volume: a new container answers for the request', async () => {
    const second = await runContainer({ image, command: 'start', env, volume });
    containers.push(second);
    await healthy(second);
    const session = await getSession(`http://127.0.0.1:${env['PORT']}`, requestId);
    expect(session).toMatchObject({
      request_id: requestId,
      decision: 'allowed',
      callback: { state: 'delivered' },
    });
    expect(await podman('exec', second, 'cat', '/data/webhook-secret')).toBe(secret);
    expect((await terminate(second)).code).toBe(0);
  });
});

describe('the image in distributed mode, against the host Redis and PostgreSQL', () => {
  const containers: string[] = [];
  const suffix = randomBytes(4).toString('hex');
  const prefix = `cgcontainers-${suffix}`;
  const schema = `cgcontainers_${suffix}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let receiver: ScriptedServer;
  const roles: Record<'auth' | 'api' | 'worker', string> = { auth: '', api: '', worker: '' };
  let apiPort: number;

  beforeAll(async () => {
    receiver = await startScriptedServer(() => ({ status: 204 }));
    const [authPort, workerPort] = [await freePort(), await freePort()];
    apiPort = await freePort();
    const shared = {
      HOST: '127.0.0.1',
      REDIS_URL,
      DATABASE_URL,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_SCHEMA: schema,
      TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
      WEBHOOK_SECRET: secret,
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
      AUTH_SERVICE_PORT: String(authPort),
    };
    roles.auth = await runContainer({
      image,
      command: 'auth-service',
      env: shared,
      healthCommand: 'chargegate health auth-service',
    });
    roles.api = await runContainer({
      image,
      command: 'api',
      env: { ...shared, PORT: String(apiPort) },
    });
    roles.worker = await runContainer({
      image,
      command: 'worker',
      env: {
        ...shared,
        WORKER_PORT: String(workerPort),
        AUTH_SERVICE_URL: `http://127.0.0.1:${authPort}/api/v1/authorize`,
      },
      healthCommand: 'chargegate health worker',
    });
    containers.push(roles.auth, roles.api, roles.worker);
  });

  afterAll(async () => {
    await removeContainers(containers);
    await receiver?.close();
    await deleteRedisKeys(REDIS_URL, prefix);
    await dropSchema(DATABASE_URL, schema);
  });

  it('runs auth-service, api and worker as containers, and a request goes through', async () => {
    for (const id of Object.values(roles)) await healthy(id);
    const requestId = await startSession(
      `http://127.0.0.1:${apiPort}`,
      startBody({ driver_token: ALLOWED }, `${receiver.url}/hook`),
    );
    const callback = await waitFor(() => receiver.requests[0], {
      timeoutMs: 30_000,
      message: 'the callback at the receiver',
    });
    expect(verify(secret, callback)).toMatchObject({ status: 'allowed' });
    expect(callback.headers['webhook-id']).toBe(requestId);
  });

  it('holds sockets on 127.0.0.1 only, in every role', async () => {
    for (const id of Object.values(roles)) {
      const sockets = await socketsOf(id);
      expect(sockets.some((s) => s.state === 'listen')).toBe(true);
      expect(beyondLoopback(sockets)).toEqual([]);
    }
    // The API and the worker hold their connections to Redis and PostgreSQL.
    for (const id of [roles.api, roles.worker]) {
      const peers = (await socketsOf(id)).map((s) => s.remote);
      expect(peers).toEqual(expect.arrayContaining(['127.0.0.1:6379', '127.0.0.1:5432']));
    }
  });

  it('stops every role on SIGTERM with exit code 0 within 10 s', async () => {
    // The API first, the authorization service last: the order an orderly shutdown takes.
    for (const id of [roles.api, roles.worker, roles.auth]) {
      const { code, ms } = await terminate(id);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(STOP_DEADLINE_MS);
    }
  });
});
