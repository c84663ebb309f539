import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuthorizationClient } from '../src/authorization/client.js';
import { CircuitBreaker } from '../src/lib/circuit-breaker.js';
import { attemptDelivery } from '../src/callbacks/delivery.js';
import { createSigner, generateSecret } from '../src/contract/signing.js';
import { startScriptedServer, type Reply } from './helpers/http.js';

const TOKEN = 'DRIVER-TOKEN-0001-abcdefgh';

describe('the two HTTP callers and the limits on what they read', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(reply: Reply): Promise<string> {
    const server = await startScriptedServer(() => reply);
    cleanups.push(() => server.close());
    return server.url;
  }

  function client(url: string) {
    const authorizer = createAuthorizationClient({
      url: `${url}/api/v1/authorize`,
      timeoutMs: 2_000,
      maxInFlight: 2,
      breaker: new CircuitBreaker({ failureThreshold: 100, openMs: 1_000 }),
    });
    cleanups.push(() => authorizer.close());
    return authorizer;
  }

  const input = { requestId: 'r-1', stationId: 'station-1', driverToken: TOKEN };

  function deliver(url: string) {
    const dispatcher = new Agent();
    cleanups.push(() => dispatcher.close());
    return attemptDelivery({
      url,
      id: 'r-1',
      body: '{}',
      signer: createSigner([generateSecret()]),
      timeoutMs: 2_000,
      dispatcher,
      conceal: TOKEN,
    });
  }

  it('reads an authorization answer, and refuses one over 64 KiB as malformed', async () => {
    const fine = await start({ status: 200, body: '{"status":"allowed"}' });
    expect(await client(fine).authorize(input)).toMatchObject({
      decision: 'allowed',
      reason: 'allowed',
    });
    const padding = ' '.repeat(64 * 1024);
    const huge = await start({ status: 200, body: `{"status":"allowed"}${padding}` });
    expect(await client(huge).authorize(input)).toMatchObject({
      decision: 'unknown',
      reason: 'malformed_body',
    });
  });

  it('strips control and invisible reordering characters (bidi overrides too) from a reason', async () => {
    const reason = 'ok\u202e\u2066evil\u2069\u200b\u0007\u009b\ufeff-done';
    const url = await start({ status: 200, body: JSON.stringify({ status: 'allowed', reason }) });
    expect(await client(url).authorize(input)).toMatchObject({
      decision: 'allowed',
      reason: 'okevil-done',
    });
  });

  // Stopping at a read cap is tested in http-exchange.test.ts (a body that never ends); the
  // deliverer's cap is 4 KiB (`RESPONSE_READ_CAP_BYTES`), more than a snippet needs.
  it('keeps the first 256 characters of a long callback answer, the token redacted', async () => {
    const url = await start({ status: 500, body: `echo ${TOKEN} ${'x'.repeat(8 * 1024)}` });
    const result = await deliver(`${url}/hooks`);
    expect(result).toMatchObject({ outcome: 'failed', statusCode: 500, error: null });
    expect(result.responseSnippet).toBe(
      `echo [redacted] ${'x'.repeat(256 - 'echo [redacted] '.length)}`,
    );
  });

  it('fails a callback to a URL that is not http(s) without sending anything', async () => {
    const result = await deliver('blob:http://127.0.0.1:1/hooks');
    expect(result).toMatchObject({
      outcome: 'failed',
      statusCode: null,
      error: 'CALLBACK_UNREACHABLE',
    });
  });
});
