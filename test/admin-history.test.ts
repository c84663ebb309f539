import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './helpers/http.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { call, getSession, startBody, startSession } from './helpers/client.js';
import { waitFor } from './helpers/wait.js';

const ADMIN = 'admin-token-for-history-tests-0123';
const auth = { authorization: `Bearer ${ADMIN}` };

interface Bucket {
  accepted: number;
  decided: Record<string, number>;
  dead_lettered: number;
  backlog: number;
  accept_ms: number[];
  callback_ms: number[];
}
interface Group {
  host: string;
  reason: string;
  count: number;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('admin history and dead-letter groups', () => {
  let dir: ReturnType<typeof tempDir>;
  let down: ScriptedServer;
  let busy: ScriptedServer;
  let service: ServiceProcess;
  let toDown: string[];
  let toBusy: string[];

  beforeAll(async () => {
    dir = tempDir();
    down = await startScriptedServer(() => ({ status: 500 }));
    busy = await startScriptedServer(() => ({ status: 503 }));
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      ADMIN_TOKEN: ADMIN,
      CALLBACK_RETRY_SCHEDULE: '50ms',
    });
    const send = (url: string) => startSession(service.url, startBody({}, `${url}/hooks`));
    toDown = [await send(down.url), await send(down.url)];
    toBusy = [await send(busy.url), await send(busy.url), await send(busy.url)];
    for (const id of [...toDown, ...toBusy]) {
      await waitFor(
        async () =>
          ((await getSession(service.url, id))['callback'] as { state: string }).state ===
          'dead_lettered',
        { timeoutMs: 15_000, message: `the callback of ${id} dead-lettered` },
      );
    }
  });

  afterAll(async () => {
    await service?.stop();
    await down?.close();
    await busy?.close();
    dir?.remove();
  });

  it('shows the traffic of the last 15 minutes from the store, bucketed', async () => {
    expect((await call(service.url, 'GET', '/admin/v1/history')).status).toBe(401);
    const answer = await call(service.url, 'GET', '/admin/v1/history?range=15m', { headers: auth });
    expect(answer.status).toBe(200);
    const view = answer.json();
    expect(view).toMatchObject({
      range: '15m',
      bucket_seconds: 10,
      ranges: ['15m', '1h', '6h', '24h'],
    });
    const buckets = view['buckets'] as Bucket[];
    expect(buckets).toHaveLength(90);
    expect(sum(buckets.map((b) => b.accepted))).toBe(5);
    expect(sum(buckets.map((b) => sum(Object.values(b.decided))))).toBe(5);
    expect(sum(buckets.map((b) => sum(b.accept_ms)))).toBe(5);
    expect(sum(buckets.map((b) => b.dead_lettered))).toBe(5);
    expect(buckets.at(-1)?.backlog).toBe(0);

    const day = await call(service.url, 'GET', '/admin/v1/history?range=24h', { headers: auth });
    expect(day.json()['bucket_seconds']).toBe(600);
    expect(sum((day.json()['buckets'] as Bucket[]).map((b) => b.accepted))).toBe(5);
    const bad = await call(service.url, 'GET', '/admin/v1/history?range=2d', { headers: auth });
    expect(bad.status).toBe(400);
  });

  it('groups dead letters by receiver host and reason, and replays exactly one group', async () => {
    expect((await call(service.url, 'GET', '/admin/v1/dead-letters/groups')).status).toBe(401);
    const answer = await call(service.url, 'GET', '/admin/v1/dead-letters/groups', {
      headers: auth,
    });
    expect(answer.status).toBe(200);
    const { groups, total, total_groups, through } = answer.json() as {
      groups: Group[];
      total: number;
      total_groups: number;
      through: string;
    };
    const hostOf = (server: ScriptedServer) => new URL(server.url).host;
    expect({ total, total_groups }).toEqual({ total: 5, total_groups: 2 });
    expect(groups.map((g) => [g.host, g.reason, g.count])).toEqual([
      [hostOf(busy), 'http_503', 3],
      [hostOf(down), 'http_500', 2],
    ]);
    const firstPage = await call(service.url, 'GET', '/admin/v1/dead-letters/groups?limit=1', {
      headers: auth,
    });
    expect(firstPage.json()).toMatchObject({ next_offset: 1, total_groups: 2 });

    const query = `host=${encodeURIComponent(hostOf(down))}&reason=http_500`;
    const listed = await call(service.url, 'GET', `/admin/v1/dead-letters?${query}`, {
      headers: auth,
    });
    const items = listed.json()['items'] as { request_id: string }[];
    expect(items.map((i) => i.request_id).sort()).toEqual([...toDown].sort());

    down.script = () => ({ status: 200 });
    const seenDown = down.requests.length;
    const seenBusy = busy.requests.length;
    const replay = await call(
      service.url,
      'POST',
      `/admin/v1/dead-letters/groups/replay?${query}&through=${through}`,
      { headers: auth },
    );
    expect(replay.status).toBe(202);
    expect(replay.json()).toEqual({ replayed: 2, host: hostOf(down), reason: 'http_500' });
    await waitFor(() => down.requests.length - seenDown >= 2, {
      timeoutMs: 15_000,
      message: 'the two replayed callbacks',
    });
    const ids = down.requests.slice(seenDown).map((r) => r.headers['webhook-id']);
    expect(ids.sort()).toEqual([...toDown].sort());
    expect(busy.requests.length).toBe(seenBusy);
    const after = await call(service.url, 'GET', '/admin/v1/dead-letters/groups', {
      headers: auth,
    });
    expect(after.json()).toMatchObject({ total: 3, total_groups: 1 });
  });
});
