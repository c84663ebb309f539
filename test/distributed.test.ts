import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import {
  DATABASE_URL,
  REDIS_URL,
  deleteRedisKeys,
  dropSchema,
  postgresAvailable,
  redisAvailable,
} from './helpers/servers.js';

const haveServers = (await redisAvailable()) && (await postgresAvailable());

const TOKENS = [
  'DEMO-ALLOWED-0001-abcdefgh',
  'DEMO-BLOCKED-0002-abcdefgh',
  'NOT-IN-THE-ACL-0000-abcdefgh',
];
const EXPECTED: Record<string, string> = {
  'DEMO-ALLOWED-0001-abcdefgh': 'allowed',
  'DEMO-BLOCKED-0002-abcdefgh': 'not_allowed',
  'NOT-IN-THE-ACL-0000-abcdefgh': 'invalid',
};

async function dropEverything(prefix: string, schema: string): Promise<void> {
  await deleteRedisKeys(REDIS_URL, prefix);
  await dropSchema(DATABASE_URL, schema);
}

describe.skipIf(!haveServers)(
  'distributed mode: Redis Streams and PostgreSQL, several processes',
  () => {
    let dir: ReturnType<typeof tempDir>;
    let receiver: ScriptedServer;
    let env: Record<string, string>;
    let prefix: string;
    let schema: string;
    const processes: ServiceProcess[] = [];

    beforeEach(async () => {
      dir = tempDir();
      const suffix = randomBytes(4).toString('hex');
      prefix = `cgtest-${suffix}`;
      schema = `cgtest_${suffix}`;
      receiver = await startScriptedServer(() => ({ status: 204 }));
      env = {
        ...baseEnv(dir.path),
        REDIS_URL,
        DATABASE_URL,
        REDIS_KEY_PREFIX: prefix,
        DATABASE_SCHEMA: schema,
        QUEUE_PARTITIONS: '2',
        TOKEN_HASH_KEY: randomBytes(24).toString('base64url'),
        WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
        // Short timeouts make short leases: a killed worker's messages come back within seconds.
        AUTH_TIMEOUT_MS: '5000',
        CALLBACK_TIMEOUT_MS: '1000',
      };
    });

    afterEach(async () => {
      for (const p of processes.splice(0).reverse()) await p.stop('SIGKILL');
      await receiver.close();
      await dropEverything(prefix, schema);
      dir.remove();
    });

    async function cluster() {
      const acl = await spawnService('auth-service', env, { waitFor: 'auth-service' });
      processes.push(acl);
      const workerEnv = { ...env, AUTH_SERVICE_URL: `${acl.authServiceUrl}/api/v1/authorize` };
      const apis = await Promise.all([spawnService('api', env), spawnService('api', env)]);
      const workers = await Promise.all(
        [0, 1].map(() => spawnService('worker', workerEnv, { waitFor: 'worker' })),
      );
      processes.push(...apis, ...workers);
      return { apis, workers };
    }

    /** Sends `count` requests over the APIs, 16 at a time; returns acknowledged id → token. */
    async function load(
      apis: ServiceProcess[],
      count: number,
      onProgress?: (sent: number) => void,
    ) {
      const acknowledged = new Map<string, string>();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < count) {
            const n = next++;
            const token = TOKENS[n % TOKENS.length]!;
            const api = apis[n % apis.length]!;
            const answer = await call(api.url, 'POST', '/api/v1/charging-sessions', {
              body: startBody({ driver_token: token }, `${receiver.url}/hook`),
            });
            if (answer.status === 202)
              acknowledged.set(answer.json()['request_id'] as string, token);
            onProgress?.(n);
          }
        }),
      );
      return acknowledged;
    }

    async function expectAllDelivered(acknowledged: Map<string, string>, apis: ServiceProcess[]) {
      await waitFor(
        () => {
          const seen = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
          return [...acknowledged.keys()].every((id) => seen.has(id));
        },
        { timeoutMs: 40_000, message: 'a callback for every acknowledged request' },
      );
      const unexpected = receiver.requests.filter(
        (r) => !acknowledged.has(r.headers['webhook-id'] as string),
      );
      expect(unexpected).toHaveLength(0);
      for (const [id, token] of acknowledged) {
        const callback = receiver.requests.find((r) => r.headers['webhook-id'] === id);
        expect(JSON.parse(callback!.body)).toMatchObject({
          driver_token: token,
          status: EXPECTED[token],
        });
      }
      const sample = [...acknowledged.keys()].slice(0, 20);
      for (const id of sample) {
        expect((await getSession(apis[1]!.url, id))['decision']).toBe(
          EXPECTED[acknowledged.get(id)!],
        );
      }
    }

    /** Decisions applied per request id, across every worker's log. */
    function appliedDecisions(workers: ServiceProcess[]): Map<string, number> {
      const counts = new Map<string, number>();
      for (const line of workers.flatMap((w) => w.logs())) {
        if (line['msg'] === 'request decided' && line['applied'] === true) {
          const id = line['request_id'] as string;
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      return counts;
    }

    it('decides every acknowledged request exactly once and calls back, across two APIs and two workers', async () => {
      const { apis, workers } = await cluster();
      const acknowledged = await load(apis, 300);
      expect(acknowledged.size).toBe(300);
      await expectAllDelivered(acknowledged, apis);
      const applied = appliedDecisions(workers);
      expect([...acknowledged.keys()].every((id) => applied.get(id) === 1)).toBe(true);
      // Both workers took part: the queue spreads the work.
      for (const worker of workers) {
        expect(worker.logs().some((l) => l['msg'] === 'request decided')).toBe(true);
      }
    }, 90_000);

    it('loses nothing when one worker is killed with SIGKILL mid-run', async () => {
      const { apis, workers } = await cluster();
      let killed = false;
      const acknowledged = await load(apis, 400, (sent) => {
        if (!killed && sent >= 150) {
          killed = true;
          workers[0]!.child.kill('SIGKILL');
        }
      });
      expect(killed).toBe(true);
      // Only the workers are killed: every POST is acknowledged, so "all delivered" covers 400.
      expect(acknowledged.size).toBe(400);
      expect(await workers[0]!.exited).toMatchObject({ signal: 'SIGKILL' });
      await expectAllDelivered(acknowledged, apis);
      const duplicates =
        receiver.requests.length -
        new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size;
      console.info(
        `distributed SIGKILL run: ${acknowledged.size} acknowledged, ${duplicates} duplicate callbacks`,
      );
    }, 90_000);
  },
);
