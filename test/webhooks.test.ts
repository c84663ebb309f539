import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { startScriptedServer, type RecordedRequest, type ScriptedServer } from './helpers/http.js';
import { baseEnv, runCli, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';
import { damagePayload } from './helpers/sqlite-damage.js';

const SECRET_A = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_B = 'whsec_' + Buffer.from('a second secret for rotation, 32b').toString('base64');
const ADMIN = 'admin-token-for-tests-0123456789';

function verify(secret: string, request: RecordedRequest): unknown {
  const headers = {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(request.body, headers);
}

type Callback = {
  url: string;
  state: string;
  attempts: number;
  history: { status_code: number | null; error: string | null }[];
};
const callbackOf = async (url: string, id: string, operatorToken?: string) =>
  (await getSession(url, id, operatorToken))['callback'] as Callback;

const OPERATOR_TOKEN = 'operator-token-0123456789';

describe('webhook delivery', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: ScriptedServer;
  let service: ServiceProcess | undefined;

  beforeEach(async () => {
    dir = tempDir();
    receiver = await startScriptedServer(() => ({ status: 204 }));
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await receiver.close();
    dir.remove();
  });

  it('signs every callback per Standard Webhooks, verifiable with each configured secret', async () => {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      WEBHOOK_SECRET: `${SECRET_A} ${SECRET_B}`,
    });
    const id = await startSession(service.url, startBody({}, receiver.url));
    await waitFor(() => receiver.requests.length === 1);
    const request = receiver.requests[0]!;
    expect(request.headers['webhook-id']).toBe(id);
    expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(
      30,
    );
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(SECRET_A, request)).toMatchObject({ status: 'allowed' });
    expect(verify(SECRET_B, request)).toMatchObject({ status: 'allowed' });
    expect(() =>
      verify('whsec_' + Buffer.from('x'.repeat(32)).toString('base64'), request),
    ).toThrow();
  });

  it('deletes a finished session once SESSION_RETENTION has passed, and keeps one in flight', async () => {
    service = await spawnService('start', baseEnv(dir.path));
    const finished = await startSession(service.url, startBody({}, receiver.url));
    await waitFor(async () => (await callbackOf(service!.url, finished)).state === 'delivered');
    receiver.script = () => ({ status: 503 });
    const retrying = await startSession(service.url, startBody({}, receiver.url));
    await waitFor(async () => (await callbackOf(service!.url, retrying)).state === 'retrying');
    await service.stop();
    // The purge runs at start (then every 10 minutes).
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      SESSION_RETENTION: '1ms',
      DEAD_LETTER_RETENTION: '1ms',
    });
    const purged = await waitFor(() =>
      service!.logs().find((line) => line['msg'] === 'expired sessions purged (retention)'),
    );
    expect(purged['purged']).toBe(1);
    const gone = await call(service.url, 'GET', `/api/v1/charging-sessions/${finished}`);
    expect(gone.status).toBe(404);
    expect((await callbackOf(service.url, retrying)).state).toBe('retrying');
  });

  it('keeps no trace of the driver token in the queue once the callback is delivered', async () => {
    const token = 'trace-me-not-token-0000000001';
    service = await spawnService('start', baseEnv(dir.path));
    const id = await startSession(service.url, startBody({ driver_token: token }, receiver.url));
    await waitFor(async () => (await callbackOf(service!.url, id)).state === 'delivered');
    await service.stop();
    service = undefined;
    // Every file in DATA_DIR, write-ahead logs included, not just the main databases.
    const files = readdirSync(dir.path);
    expect(files).toEqual(expect.arrayContaining(['queue.db', 'store.db']));
    for (const file of files) {
      expect(readFileSync(join(dir.path, file)).toString('latin1'), file).not.toContain(token);
    }
  });

  /** Starts the service, sends one request with `token`, and returns the snippet stored for its
   * first (failed, so retrying) callback attempt. */
  async function firstFailedAttempt(token: string) {
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_RETRY_SCHEDULE: '1h',
      ADMIN_TOKEN: OPERATOR_TOKEN,
    });
    const id = await startSession(service.url, startBody({ driver_token: token }, receiver.url));
    const callback = await waitFor(async () => {
      const c = await callbackOf(service!.url, id, OPERATOR_TOKEN);
      return c.state === 'retrying' && c;
    });
    const snippet = (callback.history[0] as { response_snippet?: string }).response_snippet;
    // The attempt's own log line comes after its writes: wait for it before reading the output.
    await waitFor(() =>
      service!
        .logs()
        .some(
          (l) => l['msg'] === 'callback attempt failed; retry scheduled' && l['request_id'] === id,
        ),
    );
    return { id, snippet };
  }

  it('keeps a token that the receiver echoes back out of the stored attempt and the GET', async () => {
    const token = 'echoed-back-token-00000000001';
    receiver.script = (request) => ({ status: 500, body: `rejected: ${request.body}` });
    const { id, snippet } = await firstFailedAttempt(token);
    expect(snippet).toContain('[redacted]');
    expect(JSON.stringify(await getSession(service!.url, id, OPERATOR_TOKEN))).not.toContain(token);
    expect(service!.output()).not.toContain(token);
  });

  it('leaves no fragment of an echoed token where the stored snippet is cut (256 characters)', async () => {
    const token = 'echoed-across-the-cut-0000001';
    // The token starts at character 240: a snippet cut before redaction keeps its first 16.
    receiver.script = () => ({ status: 500, body: `${'x'.repeat(240)}${token} rejected` });
    const { id, snippet } = await firstFailedAttempt(token);
    expect(snippet).toMatch(/^x{240}\[redacted\]/);
    expect(JSON.stringify(await getSession(service!.url, id, OPERATOR_TOKEN))).not.toContain(
      token.slice(0, 10),
    );
    expect(service!.output()).not.toContain(token.slice(0, 10));
  });

  it("shows a request's callback URL without its query and the receiver's answers only to an operator", async () => {
    receiver.script = () => ({ status: 500, body: 'internal detail of the receiver' });
    const { id } = await firstFailedAttempt('shown-to-operators-only-0001');
    const url = `${receiver.url}/hook?secret=receiver-secret#frag`;
    const second = await startSession(service!.url, startBody({}, url));
    const anyone = await waitFor(async () => {
      const c = await callbackOf(service!.url, second);
      return c.state === 'retrying' && c;
    });
    expect(anyone.url).toBe(`${receiver.url}/hook`);
    expect(JSON.stringify(anyone)).not.toContain('receiver-secret');
    expect(anyone.history[0]).toMatchObject({ status_code: 500, response_snippet: null });
    const stranger = await callbackOf(service!.url, id, 'not-the-operator-token-000');
    expect(stranger.history[0]).toMatchObject({ response_snippet: null });
    const operator = await callbackOf(service!.url, second, OPERATOR_TOKEN);
    expect(operator.url).toBe(url);
    expect(operator.history[0]).toMatchObject({
      response_snippet: 'internal detail of the receiver',
    });
  });

  it('generates the secret once, owner-only, in DATA_DIR, and signs with it', async () => {
    service = await spawnService('start', baseEnv(dir.path));
    const file = join(dir.path, 'webhook-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    await startSession(service.url, startBody({}, receiver.url));
    await waitFor(() => receiver.requests.length === 1);
    expect(verify(secret, receiver.requests[0]!)).toMatchObject({ status: 'allowed' });
    await service.stop();
    service = await spawnService('start', baseEnv(dir.path));
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
  });

  it('honours Retry-After on 429 instead of the schedule', async () => {
    receiver.script = (_, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 };
    service = await spawnService('start', { ...baseEnv(dir.path), CALLBACK_RETRY_SCHEDULE: '10m' });
    const id = await startSession(service.url, startBody({}, receiver.url));
    await waitFor(() => receiver.requests.length === 2, { timeoutMs: 10_000 });
    const gap = receiver.requests[1]!.receivedAt - receiver.requests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(gap).toBeLessThan(5_000);
    await waitFor(async () => (await callbackOf(service!.url, id)).state === 'delivered');
  });

  it('treats a redirect as a failure and never follows it', async () => {
    receiver.script = (request) =>
      request.url === '/moved' ? { status: 200 } : { status: 302, headers: { location: '/moved' } };
    service = await spawnService('start', { ...baseEnv(dir.path), CALLBACK_RETRY_SCHEDULE: '1h' });
    const id = await startSession(service.url, startBody({}, `${receiver.url}/hook`));
    const callback = await waitFor(async () => {
      const c = await callbackOf(service!.url, id);
      return c.state === 'retrying' && c;
    });
    expect(callback.history).toMatchObject([{ status_code: 302, error: null }]);
    expect(receiver.requests.map((r) => r.url)).toEqual(['/hook']);
  });

  it('gives up an attempt after CALLBACK_TIMEOUT_MS and records the timeout', async () => {
    receiver.script = (_, index) => (index === 0 ? 'hang' : { status: 200 });
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_TIMEOUT_MS: '300',
      CALLBACK_RETRY_SCHEDULE: '100ms',
    });
    const id = await startSession(service.url, startBody({}, receiver.url));
    const callback = await waitFor(async () => {
      const c = await callbackOf(service!.url, id);
      return c.state === 'delivered' && c;
    });
    expect(callback.history.map((h) => [h.status_code, h.error])).toEqual([
      [null, 'CALLBACK_TIMEOUT'],
      [200, null],
    ]);
  });

  it('refuses a callback URL with a private address literal at POST time unless allowed', async () => {
    const env = { ...baseEnv(dir.path), CALLBACK_ALLOW_PRIVATE_NETWORKS: 'false' };
    service = await spawnService('start', env);
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://[::ffff:10.0.0.1]/x',
      'http://169.254.169.254/latest',
      'http://localhost/x',
    ]) {
      const answer = await call(service.url, 'POST', '/api/v1/charging-sessions', {
        body: startBody({}, url),
      });
      expect(answer.status, url).toBe(400);
      expect(answer.json()['errors']).toEqual([
        {
          field: 'callback_url',
          message: 'must not point to a loopback, private or otherwise non-public address',
        },
      ]);
    }
  });
});

describe('dead letters', () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: ScriptedServer;
  let service: ServiceProcess | undefined;
  const auth = { authorization: `Bearer ${ADMIN}` };

  beforeEach(async () => {
    dir = tempDir();
    receiver = await startScriptedServer(() => ({ status: 500 }));
  });

  afterEach(async () => {
    await service?.stop();
    await receiver.close();
    dir.remove();
  });

  async function deadLettered(count: number, env: Record<string, string>) {
    service = await spawnService('start', {
      ...env,
      CALLBACK_RETRY_SCHEDULE: '50ms',
      ADMIN_TOKEN: ADMIN,
    });
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      ids.push(
        await startSession(
          service.url,
          startBody({ driver_token: `dead-letter-token-${i}-000000` }, receiver.url),
        ),
      );
    }
    for (const id of ids)
      await waitFor(async () => (await callbackOf(service!.url, id)).state === 'dead_lettered');
    // The session's state is written before the message moves to the dead letters (another
    // file): the list holds it a moment later.
    await waitFor(async () => {
      const list = await call(service!.url, 'GET', '/admin/v1/dead-letters', { headers: auth });
      const listed = (list.json()['items'] as { request_id: string }[]).map((i) => i.request_id);
      return ids.every((id) => listed.includes(id));
    });
    return ids;
  }

  it('lists dead letters and replays one through the admin API, keeping the webhook-id', async () => {
    const [first, second] = await deadLettered(2, baseEnv(dir.path));
    expect((await call(service!.url, 'GET', '/admin/v1/dead-letters')).status).toBe(401);
    expect(
      (
        await call(service!.url, 'GET', '/admin/v1/dead-letters', {
          headers: { authorization: 'Bearer wrong' },
        })
      ).status,
    ).toBe(401);
    const list = await call(service!.url, 'GET', '/admin/v1/dead-letters', { headers: auth });
    expect(list.status).toBe(200);
    expect(list.text).not.toContain('dead-letter-token');
    const listed = list.json()['items'] as { id: string; request_id: string; attempts: number }[];
    expect(listed.map((i) => i.request_id).sort()).toEqual([first, second].sort());
    const items = [first, second].map((id) => listed.find((i) => i.request_id === id)!);
    expect(items[0]).toMatchObject({ attempts: 2, status: 'invalid', reason: 'http_500' });

    const page = await call(service!.url, 'GET', '/admin/v1/dead-letters?limit=1', {
      headers: auth,
    });
    expect(page.json()['items']).toHaveLength(1);
    const after = String(page.json()['next']);
    const rest = await call(service!.url, 'GET', `/admin/v1/dead-letters?limit=1&after=${after}`, {
      headers: { authorization: `bearer ${ADMIN}` },
    });
    expect(rest.json()['items']).toHaveLength(1);
    expect(rest.json()['next']).toBeUndefined();
    const zero = await call(service!.url, 'GET', '/admin/v1/dead-letters?limit=0', {
      headers: auth,
    });
    expect(zero.status).toBe(400);
    receiver.script = () => ({ status: 200 });
    const replay = await call(
      service!.url,
      'POST',
      `/admin/v1/dead-letters/${items[0]!.id}/replay`,
      { headers: auth },
    );
    expect(replay.status).toBe(202);
    expect(replay.json()).toEqual({ replayed: 1, request_id: first });
    await waitFor(async () => (await callbackOf(service!.url, first!)).state === 'delivered');
    const delivered = receiver.requests.filter((r) => r.headers['webhook-id'] === first);
    expect(delivered.map((r) => r.body).every((b) => b === delivered[0]!.body)).toBe(true);
    expect((await callbackOf(service!.url, second!)).state).toBe('dead_lettered');
    const again = await call(
      service!.url,
      'POST',
      `/admin/v1/dead-letters/${items[0]!.id}/replay`,
      { headers: auth },
    );
    expect(again.status).toBe(404);

    const all = await call(service!.url, 'POST', '/admin/v1/dead-letters/replay', {
      headers: auth,
    });
    expect(all.json()).toEqual({ replayed: 1 });
    await waitFor(async () => (await callbackOf(service!.url, second!)).state === 'delivered');
  });

  it('refuses, over HTTP and from the CLI, to replay a dead letter whose payload is unreadable', async () => {
    const env = baseEnv(dir.path);
    const [id] = await deadLettered(1, env);
    // A damaged row, written beside the running service as a foreign writer would.
    damagePayload(join(dir.path, 'queue.db'), 'dead_letters', 'callbacks', id!, '{"v":1');
    const list = await call(service!.url, 'GET', '/admin/v1/dead-letters', { headers: auth });
    const [letter] = list.json()['items'] as { id: string; request_id: string }[];
    expect(letter).toMatchObject({ request_id: id, station_id: '', callback_url: '', status: '' });

    const path = `/admin/v1/dead-letters/${letter!.id}/replay`;
    const replay = await call(service!.url, 'POST', `${path}?from=test`, { headers: auth });
    expect(replay.status).toBe(409);
    expect(replay.headers['content-type']).toContain('application/problem+json');
    expect(replay.json()).toMatchObject({
      status: 409,
      code: 'DEAD_LETTER_UNREADABLE',
      instance: path,
    });
    const cli = await runCli(['dead-letters', 'replay', letter!.id], env);
    expect(cli.code).toBe(1);
    expect(cli.output).toContain(
      `dead letter ${letter!.id} (request ${id}) is not replayed (DEAD_LETTER_UNREADABLE): The dead letter holds a payload that is not valid JSON`,
    );
    // Left as it was: still listed, the callback still dead-lettered (a replay sets it pending
    // first).
    expect((await callbackOf(service!.url, id!)).state).toBe('dead_lettered');
    const again = await call(service!.url, 'GET', '/admin/v1/dead-letters', { headers: auth });
    expect(again.json()['items']).toHaveLength(1);
  });

  it('lists, replays and purges dead letters from the CLI', async () => {
    const env = baseEnv(dir.path);
    const [id] = await deadLettered(1, env);
    const list = await runCli(['dead-letters', 'list'], env);
    expect(list.code).toBe(0);
    const letter = JSON.parse(list.output.trim().split('\n')[0]!) as {
      id: string;
      request_id: string;
    };
    expect(letter.request_id).toBe(id);
    receiver.script = () => ({ status: 200 });
    const replay = await runCli(['dead-letters', 'replay', letter.id], env);
    expect(replay.code).toBe(0);
    expect(replay.output).toContain(id);
    await waitFor(async () => (await callbackOf(service!.url, id!)).state === 'delivered');

    receiver.script = () => ({ status: 500 });
    const other = await startSession(
      service!.url,
      startBody({ driver_token: 'purged-token-000000000000' }, receiver.url),
    );
    await waitFor(async () => (await callbackOf(service!.url, other)).state === 'dead_lettered');
    const purge = await runCli(['dead-letters', 'purge'], { ...env, DEAD_LETTER_RETENTION: '1ms' });
    expect(purge.output.trim()).toBe('purged 1');
    expect((await runCli(['dead-letters', 'list'], env)).output.trim()).toBe('');
    await service!.stop();
    service = undefined;
    const queueBytes = readFileSync(join(dir.path, 'queue.db')).toString('latin1');
    expect(queueBytes).not.toContain('purged-token-000000000000');
    expect(queueBytes).not.toContain('dead-letter-token-0-000000');
  });
});
