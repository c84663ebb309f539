import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, runCli, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';

/** A port nobody listens on right now (the health check needs a fixed one to ask). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

describe('chargegate health', () => {
  const dir = tempDir();
  let service: ServiceProcess | undefined;

  afterAll(async () => {
    await service?.stop();
    dir.remove();
  });

  it('exits 0 with the readiness answer while the service is ready, 1 once it has stopped', async () => {
    const env = {
      ...baseEnv(dir.path),
      PORT: String(await freePort()),
      AUTH_SERVICE_PORT: String(await freePort()),
    };
    service = await spawnService('start', env);

    const api = await runCli(['health'], env);
    expect(api.code).toBe(0);
    expect(api.output).toContain('/health/ready: 200');
    expect(api.output).toContain('"status":"ready"');
    const auth = await runCli(['health', 'auth-service'], env);
    expect(auth.code).toBe(0);

    expect(await service.stop()).toEqual({ code: 0, signal: null });
    const gone = await runCli(['health'], env);
    expect(gone.code).toBe(1);
    expect(gone.output).toContain(`127.0.0.1:${env.PORT}/health/ready`);
  });

  it('says why a worker without WORKER_PORT cannot be checked', async () => {
    const result = await runCli(['health', 'worker'], baseEnv(dir.path));
    expect(result.code).toBe(1);
    expect(result.output).toContain('WORKER_PORT is not set');
  });

  it('refuses an unknown target with its usage', async () => {
    const result = await runCli(['health', 'database'], baseEnv(dir.path));
    expect(result.code).toBe(1);
    expect(result.output).toContain('Usage: chargegate health');
  });
});
