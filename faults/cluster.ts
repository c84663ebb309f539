import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv } from '../test/helpers/service.js';
import { startAuthStub, startReceiver, type AuthMode, type Callback } from './endpoints.js';
import type { RestartableServer } from './endpoints.js';
import { createPrivatePostgres, type PrivatePostgres } from './postgres.js';
import { freePort, ManagedProcess, snapshotBuild } from './processes.js';
import { FaultProxy } from './proxy.js';
import { createPrivateRedis, type PrivateRedis } from './redis.js';

export type Mode = 'embedded' | 'distributed';

/**
 * The system under test and its collaborators, in one of the two deployment modes:
 *
 * - **embedded**: one all-in-one `start` process (API, worker, dispatcher) and one extra
 *   `worker` process on the same `DATA_DIR` (SQLite queue and store), as docs/distributed.md allows;
 * - **distributed**: two `api` and two `worker` processes on a private Redis (queue) and a
 *   private PostgreSQL (store), both started by the suite on free ports.
 *
 * Both use the stub authorization service and the recording receiver of `endpoints.ts`. The
 * processes reach every collaborator through a fault-injecting proxy (`proxy.ts`), which
 * forwards untouched until a network fault is injected.
 */
export type ProxyTarget = 'redis' | 'postgres' | 'auth' | 'receiver';
export interface Cluster {
  mode: Mode;
  dir: string;
  logDir: string;
  /** Embedded mode's `DATA_DIR` (SQLite queue and store). */
  dataDir: string;
  /** Processes serving the public API. */
  apis: ManagedProcess[];
  /** Processes running the worker role (the all-in-one process is in both lists). */
  workers: ManagedProcess[];
  processes: ManagedProcess[];
  auth: RestartableServer;
  setAuthMode(mode: AuthMode): void;
  authCalls(): number;
  receiver: RestartableServer;
  callbacks: Callback[];
  redis: PrivateRedis | undefined;
  postgres: PrivatePostgres | undefined;
  /** The store's PostgreSQL, reached directly (not through the proxy), for the checks. */
  databaseUrl: string | undefined;
  /** The proxies between the processes and each collaborator of the mode. */
  proxies: Partial<Record<ProxyTarget, FaultProxy>>;
  /** The callback URL the load sends: the receiver, through its proxy. */
  callbackUrl: string;
  prefix: string;
  schema: string;
  /** Base URLs of the APIs that run now. */
  apiUrls(): string[];
  /** Stops the processes and the collaborators (PostgreSQL's files are removed). */
  dispose(): Promise<void>;
}

/** Short timeouts make short leases (6–7 s): a killed process's messages come back
 * within seconds, so the drain is quick. The retry schedule (~30 s) outlasts every receiver
 * outage of the profiles, so nothing is dead-lettered; the circuit probes again after 2 s. */
export function tunedEnv(dataDir: string, authUrl: string, secret: string): Record<string, string> {
  return {
    ...baseEnv(dataDir),
    AUTH_SERVICE_URL: `${authUrl}/authorize`,
    AUTH_TIMEOUT_MS: '1000',
    CALLBACK_TIMEOUT_MS: '1000',
    CALLBACK_RETRY_SCHEDULE: '200ms,500ms,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s,2s',
    AUTH_CIRCUIT_OPEN_MS: '2000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    // The all-in-one runs its worker role in a second thread: the more moving parts under fault.
    WORKER_THREAD: 'true',
    TOKEN_HASH_KEY: randomBytes(32).toString('base64url'),
    WEBHOOK_SECRET: secret,
  };
}

async function proxyTo(name: string, port: number): Promise<FaultProxy> {
  const proxy = new FaultProxy(name, port);
  await proxy.listen();
  return proxy;
}

export interface ClusterOptions {
  /** Embedded mode's `DATA_DIR` (default: `data` in the run directory), e.g. a small tmpfs. */
  dataDir?: string;
}

export async function startCluster(
  mode: Mode,
  dir: string,
  random: () => number,
  options: ClusterOptions = {},
): Promise<Cluster> {
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const suffix = randomBytes(4).toString('hex');
  const prefix = `cgfaults-${suffix}`;
  const schema = `cgfaults_${suffix}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const auth = await startAuthStub(random);
  const receiver = await startReceiver(secret);
  const proxies: Partial<Record<ProxyTarget, FaultProxy>> = {
    auth: await proxyTo('auth', auth.server.port),
    receiver: await proxyTo('receiver', receiver.server.port),
  };
  const dataDir = options.dataDir ?? join(dir, 'data');
  const env = tunedEnv(dataDir, proxies.auth?.url ?? '', secret);
  const cli = snapshotBuild(dir);
  let redis: PrivateRedis | undefined;
  let postgres: PrivatePostgres | undefined;
  const apis: ManagedProcess[] = [];
  const workers: ManagedProcess[] = [];

  if (mode === 'embedded') {
    const main = new ManagedProcess(cli, 'main', 'start', env, logDir, await freePort());
    const worker = new ManagedProcess(cli, 'worker', 'worker', env, logDir);
    apis.push(main);
    workers.push(main, worker);
  } else {
    redis = await createPrivateRedis(join(dir, 'redis'), logDir);
    postgres = await createPrivatePostgres(logDir);
    proxies.redis = await proxyTo('redis', redis.port);
    proxies.postgres = await proxyTo('postgres', postgres.port);
    const distributed = {
      ...env,
      REDIS_URL: `redis://127.0.0.1:${proxies.redis.port}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${proxies.postgres.port}/postgres`,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_SCHEMA: schema,
      QUEUE_PARTITIONS: '2',
    };
    for (const n of [1, 2]) {
      apis.push(new ManagedProcess(cli, `api-${n}`, 'api', distributed, logDir, await freePort()));
      workers.push(new ManagedProcess(cli, `worker-${n}`, 'worker', distributed, logDir));
    }
  }
  const processes = [...new Set([...apis, ...workers])];
  const cluster: Cluster = {
    mode,
    dir,
    logDir,
    dataDir,
    apis,
    workers,
    processes,
    auth: auth.server,
    setAuthMode: auth.setMode,
    authCalls: auth.calls,
    receiver: receiver.server,
    callbacks: receiver.callbacks,
    redis,
    postgres,
    databaseUrl: postgres?.url,
    proxies,
    callbackUrl: `${proxies.receiver?.url ?? ''}/hooks/charging`,
    prefix,
    schema,
    apiUrls: () => apis.filter((p) => p.running).map((p) => p.url),
    async dispose() {
      for (const p of processes) await p.signal('SIGKILL');
      await auth.server.close();
      await receiver.server.close();
      for (const proxy of Object.values(proxies)) await proxy.close();
      await redis?.kill();
      await postgres?.dispose();
    },
  };
  try {
    // One at a time: the first creates the SQLite files or runs the PostgreSQL migrations.
    for (const p of processes) await p.start();
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
  return cluster;
}
