import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { Cluster, ProxyTarget } from './cluster.js';
import type { Load } from './load.js';
import type { ManagedProcess } from './processes.js';
import type { ProxyMode } from './proxy.js';

/**
 * The faults a deployment meets in its first months, beyond crashes: the database restarted or
 * stopped, a process or a server paused (SIGSTOP, as a long GC, a stalled host or a VM
 * migration), and a network path that turns slow, resets connections or black-holes them.
 * `scenarios.ts` schedules them with the others.
 */

export const NETWORK_KINDS = ['latency', 'reset', 'blackhole'] as const;
export type NetworkKind = (typeof NETWORK_KINDS)[number];
export type NetworkFault = `${NetworkKind}-${ProxyTarget}`;

export type PauseTarget = 'redis' | 'postgres' | 'api' | 'worker';
export type PauseFault = `pause-${PauseTarget}`;

/** The latency the `latency-*` faults add to every chunk, each way. */
export const ADDED_LATENCY_MS = 200;

/** When the collaborator went down and came back, for the checks of `postgres-*` faults. */
export interface Outage {
  downAt: number;
  upAt: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Stops the private PostgreSQL (fast shutdown, as for an upgrade), holds, starts it again.
 * Its proxy refuses meanwhile, as the server's address would.
 */
export async function postgresOutage(cluster: Cluster, holdMs: number): Promise<Outage> {
  const postgres = cluster.postgres;
  const proxy = cluster.proxies.postgres;
  if (postgres === undefined || proxy === undefined) throw new Error('needs distributed mode');
  await postgres.stop();
  await proxy.close();
  const downAt = Date.now();
  await sleep(holdMs);
  await postgres.start();
  await proxy.listen();
  return { downAt, upAt: Date.now() };
}

/** SIGSTOP, hold, SIGCONT; returns the name of what was paused. */
export async function pause(
  cluster: Cluster,
  target: PauseTarget,
  holdMs: number,
  pick: (list: ManagedProcess[]) => ManagedProcess,
): Promise<string> {
  let name: string;
  let set: (paused: boolean) => void;
  if (target === 'redis' || target === 'postgres') {
    const server = target === 'redis' ? cluster.redis : cluster.postgres;
    if (server === undefined) throw new Error(`pause-${target} needs distributed mode`);
    name = target;
    set = (paused) => server.pause(paused);
  } else {
    const list =
      target === 'api' ? cluster.apis : cluster.workers.filter((w) => !cluster.apis.includes(w));
    const process = pick(list);
    name = process.name;
    set = (paused) => process.pause(paused);
  }
  set(true);
  try {
    await sleep(holdMs);
  } finally {
    set(false);
  }
  return name;
}

/** Sets the proxy to `kind` for the hold, then back to `pass`. */
export async function networkFault(
  cluster: Cluster,
  target: ProxyTarget,
  kind: NetworkKind,
  holdMs: number,
): Promise<string> {
  const proxy = cluster.proxies[target];
  if (proxy === undefined) throw new Error(`no proxy to ${target} in ${cluster.mode} mode`);
  proxy.latencyMs = ADDED_LATENCY_MS;
  proxy.setMode(kind satisfies ProxyMode);
  try {
    await sleep(holdMs);
  } finally {
    proxy.setMode('pass');
  }
  return `${proxy.name} proxy`;
}

/** Every network fault for the proxies of the mode. */
export function networkFaults(targets: ProxyTarget[]): NetworkFault[] {
  return targets.flatMap((target) => NETWORK_KINDS.map((kind) => `${kind}-${target}` as const));
}

export function parseNetworkFault(type: string): { kind: NetworkKind; target: ProxyTarget } | null {
  const match = /^(latency|reset|blackhole)-(redis|postgres|auth|receiver)$/.exec(type);
  if (match === null) return null;
  return { kind: match[1] as NetworkKind, target: match[2] as ProxyTarget };
}

/** Writes a file into `dir` until its file system has no byte left; returns how much. */
function fill(file: string): number {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1 << 9]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** POSTs sent to the API just after the disk fills, so that the first answers are seen. */
const DISK_FULL_BURST = 8;
/** The process must answer its liveness probe within this while the disk is full. */
const LIVE_PROBE_MS = 2_000;

/**
 * Fills embedded mode's `DATA_DIR` (a small tmpfs of the suite's) to the last byte, holds, and
 * frees the space. Meanwhile the load goes on, a burst is sent at once, and the all-in-one
 * process must keep answering `/health/live`. Returns the outage and what went wrong.
 */
export async function diskFull(
  cluster: Cluster,
  load: Pick<Load, 'burst'>,
  holdMs: number,
): Promise<{ outage: Outage; problems: string[] }> {
  const file = join(cluster.dataDir, 'disk-full-filler');
  const problems: string[] = [];
  const bytes = fill(file);
  const downAt = Date.now();
  const api = cluster.apis[0];
  const burst = api === undefined ? Promise.resolve() : load.burst(api.url, DISK_FULL_BURST);
  const until = downAt + holdMs;
  while (Date.now() < until) {
    await sleep(Math.min(1_000, Math.max(0, until - Date.now())));
    if (api === undefined) break;
    try {
      const live = await request(`${api.url}/health/live`, {
        headersTimeout: LIVE_PROBE_MS,
        bodyTimeout: LIVE_PROBE_MS,
      });
      await live.body.dump();
      if (live.statusCode !== 200) problems.push(`/health/live answered ${live.statusCode}`);
    } catch (error) {
      problems.push(`/health/live: ${(error as { code?: string }).code ?? String(error)}`);
    }
  }
  rmSync(file, { force: true });
  const upAt = Date.now();
  await burst;
  if (bytes === 0) problems.push('the filler wrote nothing: the disk was full already');
  return { outage: { downAt, upAt }, problems: [...new Set(problems)] };
}
