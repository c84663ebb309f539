import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../test/helpers/wait.js';
import { freePort } from './processes.js';

/**
 * A Redis server of the suite's own, on a free port and a temporary directory, never the
 * machine's Redis on 6379: the suite kills it with SIGKILL and starts it again.
 *
 * Persistence: append-only file with `appendfsync always` and no RDB snapshots. `always` makes
 * every acknowledged write reach the disk before Redis replies, so "a `202` loses nothing" is
 * checked against the strictest setting docs/distributed.md recommends. (`everysec` would survive a
 * SIGKILL of Redis just as well, since the write(2) happens before the reply and the page cache
 * survives the process, but it can lose up to a second on an OS crash or when a slow disk makes
 * Redis postpone the write; the suite kills processes, not the machine, and should not depend
 * on that corner.)
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** How many times it was started. */
  starts: number;
  start(): Promise<void>;
  kill(): Promise<void>;
  /** SIGSTOP (true) or SIGCONT (false): a pause, as a stalled host or a long fork. */
  pause(paused: boolean): void;
  /** Every live key and value, as text, for the privacy scan. */
  dump(prefix: string): Promise<string>;
  /** Where the append-only files are (a log of every write, raw tokens included). */
  aofDir: string;
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export async function createPrivateRedis(dir: string, logDir: string): Promise<PrivateRedis> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const state: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    starts: 0,
    aofDir: join(dir, 'appendonlydir'),
    async start() {
      state.starts += 1;
      const log = createWriteStream(join(logDir, `redis.${state.starts}.log`));
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
          '--save',
          '',
          '--maxmemory-policy',
          'noeviction',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      const current = child;
      exited = new Promise((resolve) => current.on('exit', () => resolve()));
      await waitFor(
        async () => {
          if (current.exitCode !== null) throw new Error('redis-server exited during start-up');
          const client = new Redis(state.url, {
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
          });
          client.on('error', () => {});
          try {
            await client.connect();
            // While the AOF loads, Redis answers LOADING: not ready yet.
            return (await client.ping()) === 'PONG';
          } finally {
            client.disconnect();
          }
        },
        { timeoutMs: 15_000, intervalMs: 50, message: `private redis-server on ${port}` },
      );
    },
    async kill() {
      if (child !== null && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
      child = null;
    },
    pause(paused) {
      if (child !== null && child.exitCode === null && child.signalCode === null) {
        child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
      }
    },
    async dump(prefix) {
      const client = new Redis(state.url, { maxRetriesPerRequest: 1 });
      const parts: string[] = [];
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 500);
          cursor = next;
          for (const key of keys) parts.push(key, await valueOf(client, key));
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
      return parts.join('\n');
    },
  };
  await state.start();
  return state;
}

async function valueOf(client: Redis, key: string): Promise<string> {
  const type = await client.type(key);
  switch (type) {
    case 'stream':
      return JSON.stringify(await client.xrange(key, '-', '+'));
    case 'zset':
      return JSON.stringify(await client.zrange(key, 0, -1, 'WITHSCORES'));
    case 'hash':
      return JSON.stringify(await client.hgetall(key));
    case 'list':
      return JSON.stringify(await client.lrange(key, 0, -1));
    case 'set':
      return JSON.stringify(await client.smembers(key));
    case 'string':
      return (await client.get(key)) ?? '';
    default:
      return `<${type}>`;
  }
}
