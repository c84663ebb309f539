import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import { messagesInFlight, startRequestWorker, ORPHAN_GRACE_MS } from '../src/worker/worker.js';
import {
  createAuthorizationClient,
  type AuthorizationClient,
} from '../src/authorization/client.js';
import { CircuitBreaker } from '../src/lib/circuit-breaker.js';
import { createTokenHasher } from '../src/lib/token-hash.js';
import { createLogger } from '../src/lib/logger.js';
import type { RequestMessage } from '../src/queue/messages.js';
import type { Queue } from '../src/queue/port.js';
import type { DecisionStore } from '../src/store/port.js';
import type { Consumer } from '../src/queue/consumer.js';
import { startScriptedServer, type Reply, type ScriptedServer } from './helpers/http.js';
import { tempDir } from './helpers/service.js';
import { STATION } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { logSink } from './helpers/log-sink.js';
import { damagePayload, takeOverLease } from './helpers/sqlite-damage.js';

describe('request worker', () => {
  let dir: ReturnType<typeof tempDir>;
  let queue: Queue;
  let store: DecisionStore;
  let acl: ScriptedServer;
  let authorizer: AuthorizationClient;
  let worker: Consumer | undefined;
  const hasher = createTokenHasher('worker-test-key-0123456789abcdef');

  beforeEach(async () => {
    dir = tempDir();
    queue = createSqliteQueue({ file: join(dir.path, 'queue.db') });
    store = createSqliteStore({ file: join(dir.path, 'store.db') });
    acl = await startScriptedServer(() => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'allowed', reason: 'active' }),
    }));
    authorizer = createAuthorizationClient({
      url: `${acl.url}/authorize`,
      timeoutMs: 2_000,
      maxInFlight: 4,
      breaker: new CircuitBreaker({ failureThreshold: 5, openMs: 1_000 }),
    });
  });

  afterEach(async () => {
    await worker?.stop(0);
    worker = undefined;
    await authorizer.close();
    await acl.close();
    await queue.close();
    await store.close();
    dir.remove();
  });

  function start(
    now?: () => number,
    workerStore: DecisionStore = store,
    logger = createLogger('silent'),
  ) {
    worker = startRequestWorker({
      queue,
      store: workerStore,
      authorizer,
      logger,
      authTimeoutMs: 2_000,
      maxInFlight: 4,
      ...(now === undefined ? {} : { now }),
    });
  }

  function message(requestId: string): RequestMessage {
    return {
      v: 1,
      request_id: requestId,
      station_id: STATION,
      driver_token: 'WORKER-TEST-TOKEN-000001',
      callback_url: 'http://127.0.0.1:9/hooks',
      accepted_at: Date.now(),
    };
  }

  async function storeSession(requestId: string) {
    await store.createSession({
      requestId,
      stationId: STATION,
      tokenHash: hasher.hash('WORKER-TEST-TOKEN-000001'),
      callbackUrl: 'http://127.0.0.1:9/hooks',
      acceptedAt: Date.now(),
    });
  }

  /**
   * Starts the worker and publishes `payload` under `key` with no session stored, as a message
   * just ahead of the API's second write would be; returns once the worker has looked twice
   * without finding the session (the second look shows the first kept the message). `expire()`
   * then moves the worker's clock well past the orphan grace.
   */
  async function publishBeforeSession(
    key: string,
    payload: unknown,
    logger?: ReturnType<typeof createLogger>,
  ) {
    let clock: number | undefined;
    const missed = watchMisses(store);
    start(() => clock ?? Date.now(), store, logger);
    await queue.publish('requests', key, payload);
    await waitFor(() => missed() > 1, {
      timeoutMs: 2_000,
      message: 'two looks without the session',
    });
    return {
      expire: () => {
        clock = Date.now() + ORPHAN_GRACE_MS + 1_000;
      },
    };
  }

  it('decides a message whose session is stored just after it within moments, not after a recheck interval', async () => {
    // The API's second write is late.
    await publishBeforeSession('r-late-session', message('r-late-session'));
    const stored = Date.now();
    await storeSession('r-late-session');
    const session = await waitFor(
      async () => {
        const found = await store.getSession('r-late-session');
        return found?.decision === 'allowed' && found;
      },
      { timeoutMs: 5_000, message: 'the decision' },
    );
    expect(session.reason).toBe('active');
    // A recheck of the full interval (1 s) would be visible here.
    expect(Date.now() - stored).toBeLessThan(500);
    expect(acl.requests).toHaveLength(1);
  });

  it('reads the session of a fresh message again before putting it back, and decides it when the session lands just after the first look', async () => {
    const release = vi.spyOn(queue, 'release');
    // The API's session write commits just after the worker's first look, as when a publish
    // wakes the worker before the API's second write.
    let writing: Promise<void> | undefined;
    const getSession = store.getSession.bind(store);
    vi.spyOn(store, 'getSession').mockImplementation(async (id) => {
      const found = await getSession(id);
      if (found === null) writing ??= storeSession(id);
      return found;
    });
    start();
    await queue.publish('requests', 'r-just-after', message('r-just-after'));
    // Read past the spy: only the worker's looks count.
    await waitFor(async () => (await getSession('r-just-after'))?.decision === 'allowed', {
      timeoutMs: 5_000,
      message: 'the decision',
    });
    expect(writing).toBeDefined();
    expect(release).not.toHaveBeenCalled();
  });

  it('drops a message whose session never appears once the grace period has passed, without asking the service', async () => {
    // The worker has looked, found no session, and kept the message (it is young).
    const { expire } = await publishBeforeSession('r-orphan', message('r-orphan'));
    expect(await queue.depth('requests')).toBe(1);
    expire();
    // The first look found it young and deferred it at most a second; the next one drops it.
    await waitFor(async () => (await queue.depth('requests')) === 0, {
      timeoutMs: 3_000,
      message: 'the orphan dropped',
    });
    expect(await store.getSession('r-orphan')).toBeNull();
    expect(acl.requests).toHaveLength(0);
  });

  it('dead-letters a message that is not a request message or not JSON, shows its callback dead-lettered, puts back one of a later release, and decides the next', async () => {
    const logs = logSink();
    const tokenless: Partial<RequestMessage> = message('r-missing-token');
    delete tokenless.driver_token;
    for (const id of ['r-missing-token', 'r-list', 'r-broken', 'r-good']) await storeSession(id);
    await queue.publish('requests', 'r-missing-token', tokenless);
    await queue.publish('requests', 'r-later', { ...message('r-later'), v: 2, added: true });
    await queue.publish('requests', 'r-list', [message('r-list')]);
    // A damaged row, as a foreign writer or a damaged file would leave it.
    await queue.publish('requests', 'r-broken', null);
    damagePayload(
      join(dir.path, 'queue.db'),
      'messages',
      'requests',
      'r-broken',
      '{"v":1,"driver_token":"WORKER-TEST-TOKEN',
    );
    await queue.publish('requests', 'r-good', message('r-good'));
    start(undefined, store, createLogger('info', logs.stream));

    await waitFor(async () => (await store.getSession('r-good'))?.decision === 'allowed', {
      timeoutMs: 5_000,
      message: 'the good message decided',
    });
    const letters = await waitFor(
      async () => {
        const page = await queue.listDeadLetters('requests', { limit: 10 });
        return page.items.length === 3 && page.items;
      },
      { timeoutMs: 5_000, message: 'three dead letters' },
    );
    expect(letters.map((letter) => [letter.key, letter.reason]).sort()).toEqual([
      ['r-broken', 'payload is not valid JSON'],
      ['r-list', 'payload is not a request message'],
      ['r-missing-token', 'payload is not a request message'],
    ]);
    // No callback will be sent for them, and the GET says so; the decision was never made.
    for (const id of ['r-missing-token', 'r-list', 'r-broken']) {
      const session = await waitFor(async () => {
        const found = await store.getSession(id);
        return found?.callback.state === 'dead_lettered' && found;
      });
      expect(session.decision).toBe('pending');
    }
    // Only the later release's message is left, put back for later; nothing was retried, and
    // the service was asked once.
    await waitFor(async () => (await queue.depth('requests')) === 1, {
      message: 'the good message acked',
    });
    expect(await queue.receive('requests', { max: 10, leaseMs: 1_000, waitMs: 0 })).toEqual([]);
    expect(acl.requests).toHaveLength(1);
    const warnings = await waitFor(() => {
      const found = logs.lines
        .map((line) => JSON.parse(line) as { msg: string; key?: string; reason?: string })
        .filter((line) => line.msg.startsWith('message '));
      return found.length === 4 && found;
    });
    expect(warnings.map((line) => [line.key, line.msg]).sort()).toEqual([
      ['r-broken', 'message dead-lettered: this release cannot handle it'],
      ['r-later', 'message left for a worker of a later release'],
      ['r-list', 'message dead-lettered: this release cannot handle it'],
      ['r-missing-token', 'message dead-lettered: this release cannot handle it'],
    ]);
    expect(logs.lines.join('\n')).not.toContain('WORKER-TEST-TOKEN');
  });

  it('sets aside a message that is not a request message once its session is stored, not before', async () => {
    const logs = logSink();
    // The API stores the session just after publishing: the worker has looked, found none yet,
    // and kept the message rather than set it aside with nothing to record it against.
    await publishBeforeSession('r-early', [message('r-early')], createLogger('info', logs.stream));
    expect(await queue.deadLetterCount('requests')).toBe(0);
    await storeSession('r-early');
    const session = await waitFor(
      async () => {
        const found = await store.getSession('r-early');
        return found?.callback.state === 'dead_lettered' && found;
      },
      { timeoutMs: 5_000, message: 'the session shown dead-lettered' },
    );
    expect(session.decision).toBe('pending');
    await waitFor(async () => (await queue.deadLetterCount('requests')) === 1, {
      message: 'the message dead-lettered',
    });
    expect(acl.requests).toHaveLength(0);
    expect(logs.lines.join('\n')).not.toContain('WORKER-TEST-TOKEN');
  });

  it('sets aside a message that is not a request message and whose session never appears once the grace period has passed', async () => {
    const { expire } = await publishBeforeSession('r-orphan', { v: 1 });
    expect(await queue.deadLetterCount('requests')).toBe(0);
    expire();
    await waitFor(async () => (await queue.deadLetterCount('requests')) === 1, {
      timeoutMs: 3_000,
      message: 'the orphan dead-lettered',
    });
    expect(await queue.depth('requests')).toBe(0);
  });

  it('logs its decision as applied when the write committed but its answer was lost, and hands it off', async () => {
    const logs = logSink();
    const recordDecision = store.recordDecision.bind(store);
    vi.spyOn(store, 'recordDecision').mockImplementationOnce(async (id, decision) => {
      await recordDecision(id, decision);
      throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    });
    await storeSession('r-lost-answer');
    await queue.publish('requests', 'r-lost-answer', message('r-lost-answer'));
    start(undefined, store, createLogger('info', logs.stream));
    await waitFor(async () => (await queue.depth('callbacks')) === 1, {
      timeoutMs: 2_000,
      message: 'the callback handed off',
    });
    const decided = logs.lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line['msg'] === 'request decided');
    expect(decided).toMatchObject([
      { request_id: 'r-lost-answer', decision: 'allowed', applied: true },
    ]);
    expect(await queue.depth('requests')).toBe(0);
  });

  it('hands off nothing when its lease was taken over during the call: the decision stays, no callback is queued, and it says so', async () => {
    const logs = logSink();
    let answer: (reply: Reply) => void = () => {};
    acl.script = () => new Promise((resolve) => (answer = resolve));
    await storeSession('r-taken');
    await queue.publish('requests', 'r-taken', message('r-taken'));
    start(undefined, store, createLogger('info', logs.stream));
    await waitFor(() => acl.requests.length === 1, { timeoutMs: 2_000, message: 'the call' });

    // Meanwhile its lease ran out and another worker holds the message now.
    takeOverLease(join(dir.path, 'queue.db'), 'requests', 'r-taken', 'another-worker');
    answer({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'allowed', reason: 'active' }),
    });

    await waitFor(() => logs.lines.some((l) => l.includes('lease lost before its hand-off')), {
      timeoutMs: 2_000,
      message: 'the lost lease reported',
    });
    expect((await store.getSession('r-taken'))?.decision).toBe('allowed');
    // The holder hands it off: from this worker, no second callback message.
    expect(await queue.depth('callbacks')).toBe(0);
    expect(await queue.depth('requests')).toBe(1);
    const warning: unknown = JSON.parse(logs.lines.find((l) => l.includes('lease lost')) ?? '{}');
    expect(warning).toMatchObject({ level: 40, request_id: 'r-taken' });
    expect(logs.lines.join('\n')).not.toContain('WORKER-TEST-TOKEN');
  });

  it('holds two messages per permit, and with a rate limit no more than a timeout of calls', () => {
    expect(messagesInFlight({ maxInFlight: 32, authTimeoutMs: 5_000 })).toBe(64);
    // 5 calls/s for 5 s: 25 messages wait at most one timeout for the limiter.
    expect(messagesInFlight({ maxInFlight: 32, authTimeoutMs: 5_000, rateLimitPerSec: 5 })).toBe(
      25,
    );
    expect(
      messagesInFlight({ maxInFlight: 32, authTimeoutMs: 5_000, rateLimitPerSec: 1_000 }),
    ).toBe(64);
    expect(messagesInFlight({ maxInFlight: 32, authTimeoutMs: 2_000, rateLimitPerSec: 0.1 })).toBe(
      1,
    );
  });
});

/** Counts each time the worker looks for a session in `store` and finds none. */
function watchMisses(store: DecisionStore): () => number {
  let missed = 0;
  const getSession = store.getSession.bind(store);
  vi.spyOn(store, 'getSession').mockImplementation(async (id) => {
    const found = await getSession(id);
    if (found === null) missed += 1;
    return found;
  });
  return () => missed;
}
