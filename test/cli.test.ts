import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, runCli, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { redisQueueCap } from '../src/wiring/adapters.js';

/** The problems `loadConfig` reports for `env`; none when it accepts it. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

describe('configuration', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      dataDir: './data',
      auth: { servicePort: 8081, timeoutMs: 5000, maxInFlight: 32 },
      callbacks: { timeoutMs: 10_000, allowPrivateNetworks: false },
      logLevel: 'info',
      workerThread: 'auto',
    });
    expect(config.callbacks.retryScheduleMs).toEqual([
      5_000, 30_000, 120_000, 600_000, 900_000, 1_800_000,
    ]);
  });

  it('names every bad variable at once', () => {
    const env = {
      PORT: 'eighty',
      AUTH_TIMEOUT_MS: '-5',
      CALLBACK_RETRY_SCHEDULE: '1s,soon',
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'maybe',
      AUTH_SERVICE_URL: 'ftp://acl',
      WEBHOOK_SECRET: 'not-a-secret',
      LOG_LEVEL: 'loud',
    };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const named = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(named.sort()).toEqual(Object.keys(env).sort());
  });

  it('names bad variables and the rules across variables they break at once, with what each expects', () => {
    expect(
      problemsOf({
        PORT: '1.5',
        LOG_LEVEL: 'loud',
        REDIS_URL: 'redis://queue',
        SESSION_RETENTION: '1d',
        AUTH_OCPI_FROM: 'NL-CPO',
      }),
    ).toEqual([
      'PORT: expected an integer, 0–65535',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
      'DATABASE_URL: required with REDIS_URL (distributed mode needs both)',
      'WEBHOOK_SECRET: required with REDIS_URL (workers on every host must sign alike)',
      'SESSION_RETENTION: must be at least DEAD_LETTER_RETENTION (a replay needs its session)',
      'AUTH_OCPI_TO: required with AUTH_OCPI_FROM (the OCPI routing headers name both parties)',
    ]);
  });

  it('checks a rule across variables only once the variables it reads are valid', () => {
    expect(
      problemsOf({
        REDIS_URL: 'redis://queue',
        DATABASE_URL: 'mysql://store',
        WEBHOOK_SECRET: 'whsec_short',
        SESSION_RETENTION: 'a month',
        AUTH_OCPI_FROM: 'NL-CPO',
        AUTH_OCPI_TO: 'EMS',
      }),
    ).toEqual([
      'DATABASE_URL: expected an absolute postgres: or postgresql: URL',
      'AUTH_OCPI_TO: expected CC-PID, e.g. NL-EMS',
      'WEBHOOK_SECRET: expected whsec_ followed by base64 (at least 24 bytes)',
      'SESSION_RETENTION: expected a duration like 30s, 12h or 7d',
    ]);
  });

  it('keeps finished sessions 30 days, and no less than dead letters, which replay with them', () => {
    expect(loadConfig({}).sessionRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ SESSION_RETENTION: '7d' }).sessionRetentionMs).toBe(7 * 86_400_000);
    expect(() => loadConfig({ SESSION_RETENTION: '1d' })).toThrow(
      'SESSION_RETENTION: must be at least DEAD_LETTER_RETENTION',
    );
    expect(
      loadConfig({ SESSION_RETENTION: '1d', DEAD_LETTER_RETENTION: '12h' }).sessionRetentionMs,
    ).toBe(86_400_000);
  });

  it('caps each Redis queue partition at ten times MAX_BACKLOG, never below a million', () => {
    expect(redisQueueCap(loadConfig({}).maxBacklog)).toBe(1_000_000);
    expect(redisQueueCap(loadConfig({ MAX_BACKLOG: '1000' }).maxBacklog)).toBe(1_000_000);
    expect(redisQueueCap(loadConfig({ MAX_BACKLOG: '500000' }).maxBacklog)).toBe(5_000_000);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', AUTH_SERVICE_URL: '' })).toMatchObject({
      port: 8080,
      auth: { url: undefined },
    });
  });
});

describe('the chargegate command', () => {
  const services: ServiceProcess[] = [];
  let receiver: ScriptedServer | undefined;
  const dir = tempDir();

  afterEach(async () => {
    for (const s of services.splice(0).reverse()) await s.stop();
    await receiver?.close();
  });

  afterAll(() => dir.remove());

  it('prints help listing every command', async () => {
    const { code, output } = await runCli(['--help'], {});
    expect(code).toBe(0);
    for (const command of ['start', 'api', 'worker', 'auth-service'])
      expect(output).toContain(command);
    const roleHelp = await runCli(['worker', '--help'], {});
    expect(roleHelp.code).toBe(0);
    expect(roleHelp.output).toContain('Usage: chargegate worker');
  });

  it('refuses an unknown command', async () => {
    const { code, output } = await runCli(['launch'], {});
    expect(code).toBe(1);
    expect(output).toContain('unknown command "launch"');
  });

  it('stops at start-up with a message naming every bad variable', async () => {
    const { code, output } = await runCli(['start'], {
      PORT: 'x',
      AUTH_MAX_IN_FLIGHT: '0',
      AUTH_OCPI_TO: 'DE-EMS',
    });
    expect(code).toBe(1);
    expect(output).toContain('CONFIG_INVALID');
    expect(output).toContain('PORT: expected an integer, 0–65535');
    expect(output).toContain('AUTH_MAX_IN_FLIGHT: expected an integer, 1–10000');
    expect(output).toContain('AUTH_OCPI_FROM: required with AUTH_OCPI_TO');
  });

  it.runIf(process.platform === 'linux')(
    'start runs the worker role in two threads below the API thread priority, and serves their metrics once',
    async () => {
      const receiver = await startScriptedServer(() => ({ status: 204 }));
      const auth = await startScriptedServer(() => ({
        status: 200,
        body: '{"status":"allowed","reason":"active"}',
      }));
      try {
        const service = await spawnService('start', {
          ...baseEnv(dir.path),
          AUTH_SERVICE_URL: `${auth.url}/authorize`,
          WORKER_THREAD: 'true',
        });
        services.push(service);
        const started = ['worker started', 'callback dispatcher started'];
        await waitFor(
          () => started.every((msg) => service.logs().some((line) => line['msg'] === msg)),
          { message: 'both worker threads started' },
        );
        const pid = service.child.pid ?? 0;
        // /proc/<pid>/task/<tid>/stat: the fields after "(comm)" start at state (3); nice is 19.
        const niceness = (tid: string) =>
          Number(
            readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16],
          );
        const tids = readdirSync(`/proc/${pid}/task`);
        expect(niceness(String(pid))).toBe(0);
        expect(tids.filter((tid) => niceness(tid) === 10)).toHaveLength(2);

        // Each worker metric comes from the thread that updates it, exactly once.
        await startSession(service.url, startBody({}, receiver.url));
        const metrics = await waitFor(
          async () => {
            const text = (await call(service.url, 'GET', '/metrics')).text;
            return /chargegate_callback_attempts_total\{outcome="delivered"\} 1/.test(text) && text;
          },
          { message: 'the delivered callback in /metrics' },
        );
        // Each series once (one decision, one delivery here): a thread merged twice would
        // repeat it.
        for (const series of [
          /^chargegate_authorizations_total\{.*$/gm,
          /^chargegate_callback_attempts_total\{.*$/gm,
          /^chargegate_authorization_circuit_state\{state="closed"\}.*$/gm,
        ]) {
          expect(metrics.match(series), String(series)).toHaveLength(1);
        }
        expect(metrics).toMatch(
          /^chargegate_authorizations_total\{decision="allowed",reason="active"\} 1$/m,
        );
        expect(metrics).toMatch(/^chargegate_authorization_circuit_state\{state="closed"\} 1$/m);
        expect(metrics).toMatch(/^chargegate_requests_accepted_total 1$/m);
      } finally {
        await receiver.close();
        await auth.close();
      }
    },
  );

  it('runs each role as its own process: auth-service, api and worker together make the whole flow', async () => {
    receiver = await startScriptedServer(() => ({ status: 200 }));
    const env = baseEnv(dir.path);
    const acl = await spawnService('auth-service', env, { waitFor: 'auth-service' });
    services.push(acl);
    const api = await spawnService('api', env);
    services.push(api);
    const worker = await spawnService(
      'worker',
      { ...env, AUTH_SERVICE_URL: `${acl.authServiceUrl}/api/v1/authorize`, WORKER_PORT: '0' },
      { waitFor: 'worker' },
    );
    services.push(worker);
    const status = await waitFor(
      () =>
        worker.logs().find((l) => l['msg'] === 'worker health and metrics listening')?.[
          'url'
        ] as string,
      { message: 'the worker status server' },
    );
    const id = await startSession(api.url, startBody({}, receiver.url));
    await waitFor(() => receiver!.requests.length === 1, { message: 'the callback' });
    expect(JSON.parse(receiver.requests[0]!.body)).toMatchObject({ status: 'allowed' });
    const ready = await call(status, 'GET', '/health/ready');
    expect(ready.json()).toMatchObject({
      status: 'ready',
      details: { authorization_circuit: 'closed' },
    });
    const metrics = await call(status, 'GET', '/metrics');
    expect(metrics.text).toMatch(
      /chargegate_authorizations_total\{decision="allowed",reason="active"\} 1/,
    );
    // The receiver sees the request before the worker has its answer and records 'delivered'.
    const session = await waitFor(
      async () => {
        const s = await getSession(api.url, id);
        return (s['callback'] as { state: string }).state === 'delivered' && s;
      },
      { message: 'the delivered state' },
    );
    expect(session).toMatchObject({ decision: 'allowed', callback: { state: 'delivered' } });
  });
});
