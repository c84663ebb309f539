import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteRedisKeys, dropSchema } from '../test/helpers/servers.js';
import {
  forkServer,
  spawnChargegate,
  summariseLog,
  type LogSummary,
  type ServiceProcess,
} from './children.js';
import { peakRssMiB } from './procstat.js';
import type { Settings } from './settings.js';

export type Mode = 'embedded' | 'distributed';

/** The distributed worker's CPU priority on the shared machine (docs/distributed.md, "Scaling each role"). */
const WORKER_NICENESS = 10;

/** `MAX_BACKLOG` where nothing is decided during the window: the largest the service takes. */
const UNBOUNDED_BACKLOG = 100_000_000;

/** One running Chargegate: the processes under load and the servers they depend on. */
export interface Deployment {
  url: string;
  processes: ServiceProcess[];
  /** Command names of the servers outside the harness whose CPU counts too. */
  groups: string[];
  /** VmHWM of each process, read before it stops. */
  peakMemoryMiB(): Record<string, number>;
  /** Present on a deployment started with `workerLater`: starts its worker. */
  startWorker?: () => Promise<void>;
  stop(): Promise<Record<string, LogSummary>>;
}

/**
 * The settings every deployment gets: the service's defaults except for the addresses (each
 * process's port is picked by `spawnChargegate`), the log level, and private-network callbacks
 * (the receiver is on loopback).
 */
export function serviceEnv(settings: Settings, authUrl: string, dataDir: string) {
  return {
    HOST: '127.0.0.1',
    AUTH_SERVICE_PORT: '0',
    AUTH_SERVICE_URL: authUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: settings.logLevel,
    CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    ...settings.serviceEnv,
  };
}

async function dropDistributedState(
  redisUrl: string,
  databaseUrl: string,
  prefix: string,
  schema: string,
): Promise<void> {
  await deleteRedisKeys(redisUrl, prefix);
  await dropSchema(databaseUrl, schema);
}

/** Node's flags for a CPU profile of every thread, with BENCH_PROFILE_DIR (--cpu-prof is
 * refused in NODE_OPTIONS, so profiling is a command-line flag of its own). */
function cpuProfile(settings: Settings): string[] {
  const dir = settings.profileDir;
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/**
 * Starts a fresh deployment (its own data directory, or its own Redis key prefix and
 * PostgreSQL schema) so that no scenario inherits another's backlog or tables. With
 * `workerLater`, in either mode, only `chargegate api` runs until `startWorker()` adds a
 * `chargegate worker` on the same queue and store: accepting with nothing decided meanwhile,
 * the backlog bound lifted so that every request of the window is accepted.
 */
export async function startDeployment(
  mode: Mode,
  settings: Settings,
  authUrl: string,
  { workerLater = false }: { workerLater?: boolean } = {},
): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'chargegate-bench-'));
  // Also when the harness is interrupted (children.ts kills the processes first).
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const env: Record<string, string> = serviceEnv(settings, authUrl, dir);
  if (workerLater) env['MAX_BACKLOG'] = String(UNBOUNDED_BACKLOG);
  const suffix = randomBytes(4).toString('hex');
  const prefix = `cgbench-${suffix}`;
  const schema = `cgbench_${suffix}`;
  const { redisUrl, databaseUrl } = settings;
  const distributed = mode === 'distributed' && redisUrl && databaseUrl;
  if (distributed) {
    Object.assign(env, {
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      REDIS_KEY_PREFIX: prefix,
      DATABASE_SCHEMA: schema,
      TOKEN_HASH_KEY: randomBytes(32).toString('base64url'),
      WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    });
  }
  const processes: ServiceProcess[] = [];
  const stop = async () => {
    const logs: Record<string, LogSummary> = {};
    for (const p of processes) {
      await p.stop();
      logs[p.name] = await summariseLog(p.logFile);
    }
    removeDir();
    process.off('exit', removeDir);
    if (distributed) await dropDistributedState(redisUrl, databaseUrl, prefix, schema);
    return logs;
  };
  const nodeArgs = cpuProfile(settings);
  const spawnRole = (role: 'api' | 'worker' | 'start', niceness = 0) =>
    spawnChargegate(role, role, env, join(dir, `${role}.log`), nodeArgs, niceness);
  // As docs/distributed.md advises when the roles share a machine (`start` does the same to its
  // worker threads): accepting goes first, the durable backlog takes what is left.
  const startWorker = async () => {
    processes.push(await spawnRole('worker', WORKER_NICENESS));
  };
  try {
    if (distributed || workerLater) {
      processes.push(await spawnRole('api'));
      if (!workerLater) await startWorker();
    } else {
      processes.push(await spawnRole('start'));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: processes[0]?.url ?? '',
    processes,
    groups: distributed ? ['redis-server', 'postgres'] : [],
    peakMemoryMiB: () =>
      Object.fromEntries(processes.map((p) => [p.name, peakRssMiB(p.pid) ?? NaN])),
    ...(workerLater ? { startWorker } : {}),
    stop,
  };
}

/**
 * The in-memory pipeline (`pipeline.ts`) as a deployment, so that the deciding scenarios drive
 * it exactly as they drive the service: no log, no Redis, no PostgreSQL.
 */
export async function startPipeline(authUrl: string, settings: Settings): Promise<Deployment> {
  const server = await forkServer(
    'in-memory pipeline',
    './pipeline.js',
    [authUrl],
    cpuProfile(settings),
  );
  const process: ServiceProcess = {
    name: 'pipeline',
    pid: server.pid,
    url: server.url,
    logFile: '',
    stop: () => server.stop(),
  };
  return {
    url: server.url,
    processes: [process],
    groups: [],
    peakMemoryMiB: () => ({ pipeline: peakRssMiB(server.pid) ?? NaN }),
    stop: async () => {
      await server.stop();
      return {};
    },
  };
}

/** What the results file records of a mode's service settings (no temp paths, no secrets). */
export function describeEnv(mode: Mode, settings: Settings): Record<string, string> {
  return {
    command:
      mode === 'embedded'
        ? 'chargegate start'
        : `chargegate api + nice -n ${WORKER_NICENESS} chargegate worker`,
    apiAloneCommand:
      `chargegate api (MAX_BACKLOG=${UNBOUNDED_BACKLOG}), ` +
      `then nice -n ${WORKER_NICENESS} chargegate worker to drain`,
    AUTH_SERVICE_URL: '<auth stub>',
    DATA_DIR: '<fresh temp dir per scenario>',
    LOG_LEVEL: settings.logLevel,
    CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    ...(mode === 'distributed'
      ? {
          REDIS_KEY_PREFIX: '<cgbench-random per scenario>',
          DATABASE_SCHEMA: '<cgbench_random per scenario>',
          TOKEN_HASH_KEY: '<random>',
          WEBHOOK_SECRET: '<random>',
          WORKER_PORT: '<free port, polled for readiness>',
        }
      : {}),
  };
}
