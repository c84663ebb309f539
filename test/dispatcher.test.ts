import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import { startDispatcher } from '../src/callbacks/dispatcher.js';
import { createDeadLetters } from '../src/callbacks/dead-letters.js';
import { createSigner, generateSecret } from '../src/contract/signing.js';
import { createGuardedAgent } from '../src/callbacks/ssrf.js';
import { createLogger } from '../src/lib/logger.js';
import type { CallbackMessage } from '../src/queue/messages.js';
import type { Queue } from '../src/queue/port.js';
import type { DecisionStore } from '../src/store/port.js';
import type { Consumer } from '../src/queue/consumer.js';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { fakeResolver } from './helpers/resolver.js';
import { tempDir } from './helpers/service.js';
import { STATION } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { damagePayload } from './helpers/sqlite-damage.js';

describe('callback dispatcher', () => {
  let dir: ReturnType<typeof tempDir>;
  let queue: Queue;
  let store: DecisionStore;
  let agent: Agent;
  let dispatcher: Consumer | undefined;
  const servers: ScriptedServer[] = [];
  let sequence = 0;

  beforeEach(() => {
    dir = tempDir();
    queue = createSqliteQueue({ file: join(dir.path, 'queue.db') });
    store = createSqliteStore({ file: join(dir.path, 'store.db') });
  });

  afterEach(async () => {
    await dispatcher?.stop(0);
    dispatcher = undefined;
    for (const server of servers.splice(0)) await server.close();
    await agent.close();
    await queue.close();
    await store.close();
    dir.remove();
  });

  const outcomes: string[] = [];

  function start(options: {
    timeoutMs?: number;
    concurrency?: number;
    maxPerHost?: number;
    http: Agent;
  }) {
    agent = options.http;
    dispatcher = startDispatcher({
      queue,
      store,
      signer: createSigner([generateSecret()]),
      http: options.http,
      logger: createLogger('silent'),
      timeoutMs: options.timeoutMs ?? 5_000,
      retryScheduleMs: ['1h'].map(() => 3_600_000),
      concurrency: options.concurrency ?? 8,
      maxPerHost: options.maxPerHost ?? 8,
      onAttempt: (outcome) => outcomes.push(outcome),
    });
  }

  /** A decided session and its callback message (`override` replaces message fields). */
  async function decided(
    callbackUrl: string,
    override: Record<string, unknown> = {},
  ): Promise<string> {
    sequence += 1;
    const requestId = `01a1fe2f-0000-7000-8000-${String(sequence).padStart(12, '0')}`;
    await store.createSession({
      requestId,
      stationId: STATION,
      tokenHash: 'h',
      callbackUrl,
      acceptedAt: Date.now(),
    });
    await store.recordDecision(requestId, {
      decision: 'allowed',
      reason: 'active',
      authLatencyMs: 1,
      decidedAt: Date.now(),
    });
    const message: CallbackMessage = {
      v: 1,
      request_id: requestId,
      station_id: STATION,
      driver_token: 'dispatcher-test-token-0001',
      callback_url: callbackUrl,
      status: 'allowed',
    };
    await queue.publish('callbacks', requestId, { ...message, ...override });
    return requestId;
  }

  it('dead-letters a message that is not a callback message, shows it dead-lettered, refuses to replay it, and delivers the next', async () => {
    const receiver = await startScriptedServer(() => ({ status: 204 }));
    servers.push(receiver);
    start({ http: createGuardedAgent({ allowPrivateNetworks: true }) });
    const bad = await decided(`${receiver.url}/hooks`, {
      station_id: 42,
      status: 'maybe',
    });
    const good = await decided(`${receiver.url}/hooks`);
    await waitFor(async () => (await store.getSession(good))?.callback.state === 'delivered', {
      timeoutMs: 5_000,
      message: 'the good callback delivered',
    });
    await waitFor(async () => (await store.getSession(bad))?.callback.state === 'dead_lettered', {
      message: 'the bad callback shown dead-lettered',
    });
    const letters = createDeadLetters({ queue, store, retentionMs: 60_000 });
    const { items } = await letters.list({ limit: 10 });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      request_id: bad,
      // Text fields are shown as they are, others empty: nothing is invented.
      station_id: '',
      callback_url: `${receiver.url}/hooks`,
      status: 'maybe',
      reason: 'payload is not a callback message',
    });
    expect(await letters.replay(items[0]!.id)).toEqual({
      refused: 'DEAD_LETTER_UNREADABLE',
      requestId: bad,
    });
    expect(await letters.replayAll()).toBe(0);
    expect((await store.getSession(bad))?.callback.state).toBe('dead_lettered');
    expect(receiver.requests).toHaveLength(1);
    await waitFor(async () => (await queue.depth('callbacks')) === 0, { message: 'both acked' });
  });

  it('dead-letters a message that is not JSON, shows its callback dead-lettered, and delivers the next', async () => {
    const receiver = await startScriptedServer(() => ({ status: 204 }));
    servers.push(receiver);
    const broken = await decided(`${receiver.url}/hooks`);
    // A damaged row, as a foreign writer or a damaged file would leave it.
    damagePayload(join(dir.path, 'queue.db'), 'messages', 'callbacks', broken, '{"v":1');
    const good = await decided(`${receiver.url}/hooks`);
    start({ http: createGuardedAgent({ allowPrivateNetworks: true }) });
    await waitFor(async () => (await store.getSession(good))?.callback.state === 'delivered', {
      timeoutMs: 5_000,
      message: 'the good callback delivered',
    });
    await waitFor(
      async () => (await store.getSession(broken))?.callback.state === 'dead_lettered',
      {
        message: 'the unreadable callback shown dead-lettered',
      },
    );
    const { items } = await createDeadLetters({ queue, store, retentionMs: 60_000 }).list({
      limit: 10,
    });
    expect(items).toEqual([
      expect.objectContaining({ request_id: broken, reason: 'payload is not valid JSON' }),
    ]);
    expect(receiver.requests).toHaveLength(1);
  });

  it('refuses a host name that resolves to a private address (DNS rebinding), recorded as a name that does not resolve', async () => {
    const receiver = await startScriptedServer(() => ({ status: 200 }));
    servers.push(receiver);
    const resolver = fakeResolver({ 'rebind.test': ['127.0.0.1'] });
    start({ http: createGuardedAgent({ allowPrivateNetworks: false, lookup: resolver.lookup }) });
    const internal = await decided(`http://rebind.test:${receiver.port}/hook`);
    const missing = await decided(`http://missing.test:${receiver.port}/hook`);
    for (const id of [internal, missing]) {
      const session = await waitFor(async () => {
        const s = await store.getSession(id);
        return s?.callback.state === 'retrying' && s;
      });
      expect(session.callback.attempts).toBe(1);
    }
    // One error for both: the history is no oracle for which internal names exist.
    const [seenInternal, seenMissing] = await Promise.all(
      [internal, missing].map((id) => store.listCallbackAttempts(id)),
    );
    expect(seenInternal).toMatchObject([
      { attempt: 1, statusCode: null, error: 'CALLBACK_UNREACHABLE' },
    ]);
    expect(seenMissing).toMatchObject([
      { attempt: 1, statusCode: null, error: 'CALLBACK_UNREACHABLE' },
    ]);
    expect(resolver.asked).toEqual(expect.arrayContaining(['rebind.test', 'missing.test']));
    expect(receiver.requests).toHaveLength(0);
  });

  it('keeps delivering to a healthy host while another host hangs', async () => {
    const hanging = await startScriptedServer(() => 'hang');
    const healthy = await startScriptedServer(() => ({ status: 204 }));
    servers.push(hanging, healthy);
    const timeoutMs = 4_000;
    start({
      http: createGuardedAgent({ allowPrivateNetworks: true, maxPerHost: 2 }),
      timeoutMs,
      concurrency: 8,
      maxPerHost: 2,
    });
    for (let i = 0; i < 20; i += 1) await decided(`${hanging.url}/slow`);
    await waitFor(() => hanging.inFlight === 2, {
      message: 'the hanging host to hold its two slots',
    });
    const publishedAt = Date.now();
    const healthyIds = await Promise.all(
      Array.from({ length: 10 }, () => decided(`${healthy.url}/fast`)),
    );
    await waitFor(() => healthy.requests.length === 10, {
      // Well inside one attempt's timeout: a healthy host never waits behind a hanging one.
      timeoutMs: timeoutMs / 2,
      message: 'all healthy callbacks while the other host hangs',
    });
    expect(Date.now() - publishedAt).toBeLessThan(timeoutMs);
    expect(hanging.maxInFlight).toBeLessThanOrEqual(2);
    // The receiver records a request before it answers; the dispatcher persists 'delivered' only
    // after the answer arrives, so wait for the write rather than assert it at once.
    for (const id of healthyIds)
      await waitFor(async () => (await store.getSession(id))?.callback.state === 'delivered', {
        timeoutMs: timeoutMs / 2,
        message: `callback ${id} recorded as delivered`,
      });
  });

  it('keeps delivering to a healthy host while several hanging hosts each hold their share', async () => {
    // Regression: the cap was per host only, so a few hanging hosts together took every slot
    // (four took all 128) and a healthy callback waited for their timeouts.
    const hangingA = await startScriptedServer(() => 'hang');
    const hangingB = await startScriptedServer(() => 'hang');
    const healthy = await startScriptedServer(() => ({ status: 204 }));
    servers.push(hangingA, hangingB, healthy);
    const timeoutMs = 5_000;
    start({
      http: createGuardedAgent({ allowPrivateNetworks: true, maxPerHost: 4 }),
      timeoutMs,
      concurrency: 8,
      maxPerHost: 4,
    });
    for (let i = 0; i < 12; i += 1) {
      await decided(`${hangingA.url}/slow`);
      await decided(`${hangingB.url}/slow`);
    }
    await waitFor(() => hangingA.inFlight + hangingB.inFlight >= 6, {
      message: 'the hanging hosts to hold their slots',
    });
    const publishedAt = Date.now();
    const id = await decided(`${healthy.url}/fast`);
    await waitFor(async () => (await store.getSession(id))?.callback.state === 'delivered', {
      timeoutMs: timeoutMs / 2,
      message: 'the healthy callback delivered before any hanging attempt timed out',
    });
    expect(Date.now() - publishedAt).toBeLessThan(timeoutMs);
    expect(hangingA.inFlight + hangingB.inFlight).toBeLessThanOrEqual(6);
  });

  it('delivers a backlog to one busy host without cycling it through the queue', async () => {
    // Regression: a host at its limit had every further callback put back for 20 ms, so a
    // backlog of thousands was re-queued ~100 times per delivery and drained at ~60/s.
    const receiver = await startScriptedServer(() => ({ status: 204 }));
    servers.push(receiver);
    outcomes.length = 0;
    start({
      http: createGuardedAgent({ allowPrivateNetworks: true, maxPerHost: 4 }),
      concurrency: 32,
      maxPerHost: 4,
    });
    const ids = [];
    for (let i = 0; i < 400; i += 1) ids.push(await decided(`${receiver.url}/busy`));
    await waitFor(() => receiver.requests.length === 400, {
      timeoutMs: 20_000,
      message: 'all 400',
    });
    expect(receiver.maxInFlight).toBeLessThanOrEqual(4);
    expect(outcomes.filter((o) => o === 'deferred').length).toBeLessThan(40);
  });
});
