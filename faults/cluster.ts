import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { baseEnv } from '../test/helpers/service.js';
import { DATABASE_URL, dropSchema } from '../test/helpers/servers.js';
import { startAuthStub, startReceiver, type AuthMode, type Callback } from './endpoints.js';
import type { RestartableServer } from './endpoints.js';
import { freePort, ManagedProcess, snapshotBuild } from './processes.js';
import { createPrivateRedis, type PrivateRedis } from './redis.js';

export type Mode = 'embedded' | 'distributed';

/**
 * The system under test and its collaborators, in one of the two deployment modes:
 *
 * - **embedded**: one all-in-one `start` process (API, worker, dispatcher) and one extra
 *   `worker` process on the same `DATA_DIR` (SQLite queue and store), as docs/distributed.md allows;
 * - **distributed**: two `api` and two `worker` processes on a private Redis (queue) and the
 *   machine's PostgreSQL in a schema of the run's own.
 *
 * Both use the stub authorization service and the recording receiver of `endpoints.ts`.
 */
export interface Cluster {
  mode: Mode;
  dir: string;
  logDir: string;
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
  prefix: string;
  schema: string;
  /** Base URLs of the APIs that run now. */
  apiUrls(): string[];
  /** Drops the PostgreSQL schema (distributed) and stops the collaborators. */
  dispose(): Promise<void>;
}

/** Short timeouts make short leases (6–7 s): a killed process's messages come back
 * within seconds, so the drain is quick. The retry schedule (~30 s) outlasts every receiver
 * outage of the profiles, so nothing is dead-lettered; the circuit probes again after 2 s. */
function tunedEnv(dir: string, authUrl: string, secret: string): Record<string, string> {
  return {
    ...baseEnv(join(dir, 'data')),
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

export async function startCluster(
  mode: Mode,
  dir: string,
  random: () => number,
): Promise<Cluster> {
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const suffix = randomBytes(4).toString('hex');
  const prefix = `cgfaults-${suffix}`;
  const schema = `cgfaults_${suffix}`;
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const auth = await startAuthStub(random);
  const receiver = await startReceiver(secret);
  const env = tunedEnv(dir, auth.server.url, secret);
  const cli = snapshotBuild(dir);
  let redis: PrivateRedis | undefined;
  const apis: ManagedProcess[] = [];
  const workers: ManagedProcess[] = [];

  if (mode === 'embedded') {
    const main = new ManagedProcess(cli, 'main', 'start', env, logDir, await freePort());
    const worker = new ManagedProcess(cli, 'worker', 'worker', env, logDir);
    apis.push(main);
    workers.push(main, worker);
  } else {
    redis = await createPrivateRedis(join(dir, 'redis'), logDir);
    const distributed = {
      ...env,
      REDIS_URL: redis.url,
      DATABASE_URL,
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
  // One at a time: the first creates the SQLite files or runs the PostgreSQL migrations.
  for (const p of processes) await p.start();

  return {
    mode,
    dir,
    logDir,
    apis,
    workers,
    processes,
    auth: auth.server,
    setAuthMode: auth.setMode,
    authCalls: auth.calls,
    receiver: receiver.server,
    callbacks: receiver.callbacks,
    redis,
    prefix,
    schema,
    apiUrls: () => apis.filter((p) => p.running).map((p) => p.url),
    async dispose() {
      for (const p of processes) await p.signal('SIGKILL');
      await auth.server.close();
      await receiver.server.close();
      await redis?.kill();
      if (mode === 'distributed') await dropSchema(DATABASE_URL, schema);
    },
  };
}
