import { afterEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { startBody } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

/**
 * Regression (found by the fault suite, `npm run test:faults`): a request that was in flight
 * when SIGTERM came was answered with `Connection: keep-alive`; the connection, idle after
 * that answer, kept the server's `close()` waiting for its keep-alive timeout (72 s), so the
 * process outlived SHUTDOWN_TIMEOUT_MS by a minute and an orchestrator would SIGKILL it.
 */
describe('SIGTERM with kept-alive client connections', () => {
  let dir: ReturnType<typeof tempDir>;
  let service: ServiceProcess | undefined;
  let agent: Agent | undefined;

  afterEach(async () => {
    await service?.stop('SIGKILL');
    await agent?.close();
    dir.remove();
  });

  it('closes the connection of a request in flight at SIGTERM and exits well within the shutdown timeout', async () => {
    dir = tempDir();
    service = await spawnService('start', { ...baseEnv(dir.path), SHUTDOWN_TIMEOUT_MS: '5000' });
    // A client that keeps idle connections far longer than the test: only the server can end them.
    agent = new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
    const body = JSON.stringify(startBody());
    const warm = await request(`${service.url}/api/v1/charging-sessions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body,
    });
    await warm.body.text();
    expect(warm.statusCode).toBe(202);

    // The body goes in two halves around the signal: the request is in flight when it comes.
    const stream = new Readable({ read() {} });
    const answer = request(`${service.url}/api/v1/charging-sessions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      body: stream,
    });
    stream.push(body.slice(0, 20));
    // A round trip on another connection: once the server answered it, it has read what was
    // written to the first one before. (Were the request not in flight at the signal, its idle
    // connection would be closed under it and the test would fail, never pass by chance.)
    const probe = await request(`${service.url}/health/live`);
    await probe.body.text();
    const current = service;
    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    await waitFor(() => current.logs().some((l) => String(l['msg']).startsWith('stopping')));
    stream.push(body.slice(20));
    stream.push(null);
    const response = await answer;
    await response.body.text();

    expect(response.statusCode).toBe(202);
    expect(response.headers['connection']).toBe('close');
    expect(await service.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
  }, 30_000);
});
