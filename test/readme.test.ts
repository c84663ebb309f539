import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSession } from './helpers/client.js';
import { baseEnv, spawnService, tempDir, type ServiceProcess } from './helpers/service.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const TRY_IT = README.slice(
  README.indexOf('## Try it'),
  README.indexOf('\n## ', README.indexOf('## Try it') + 1),
);

/** The four requests of "Try it": the decision its comment announces, and its body. */
const REQUESTS = [
  ...TRY_IT.matchAll(/^# (\w+).*\ncurl -i (\S+) \\\n(?:.*\\\n)*?\s*-d '([^']+)'/gm),
].map((m) => ({
  decision: m[1]!,
  url: m[2]!,
  body: JSON.parse(m[3]!) as { station_id: string; driver_token: string; callback_url: string },
}));

interface Printed {
  'webhook-id': string;
  signature: string;
  body: { station_id: string; driver_token: string; status: string };
}

describe("the README's Try it, as written", () => {
  const dir = tempDir();
  let service: ServiceProcess;
  let receiver: ChildProcess;
  let printed = '';
  let receiverUrl = '';

  beforeAll(async () => {
    // `CALLBACK_ALLOW_PRIVATE_NETWORKS=true npm start`, i.e. `node dist/cli.js start`, with the
    // bundled ACL (no ACL_FILE), on free ports and its own data directory.
    expect(TRY_IT).toContain('CALLBACK_ALLOW_PRIVATE_NETWORKS=true npm start');
    service = await spawnService('start', {
      ...baseEnv(dir.path),
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
    // `WEBHOOK_SECRET=$(cat data/webhook-secret) node examples/receiver.mjs 9000`, on a free port.
    expect(TRY_IT).toContain(
      'WEBHOOK_SECRET=$(cat data/webhook-secret) node examples/receiver.mjs 9000',
    );
    const secret = readFileSync(join(dir.path, 'webhook-secret'), 'utf8').trim();
    receiver = spawn(process.execPath, [join(ROOT, 'examples/receiver.mjs'), '0'], {
      env: { PATH: process.env['PATH'] ?? '', WEBHOOK_SECRET: secret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    receiver.stdout?.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    receiverUrl = await waitFor(() => /listening on (http:\/\/\S+?)\/?$/m.exec(printed)?.[1], {
      message: 'the receiver listening',
    });
  });

  afterAll(async () => {
    await service?.stop();
    receiver?.kill('SIGTERM');
    dir.remove();
  });

  it('sends the four requests and gets the four signed callbacks the README announces', async () => {
    expect(REQUESTS.map((r) => r.decision)).toEqual([
      'allowed',
      'not_allowed',
      'invalid',
      'not_allowed',
    ]);
    const ids: string[] = [];
    for (const { url, body } of REQUESTS) {
      expect(url).toBe('http://localhost:8080/api/v1/charging-sessions');
      expect(body.callback_url).toMatch(/^http:\/\/127\.0\.0\.1:9000\//);
      const response = await fetch(url.replace('http://localhost:8080', service.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          ...body,
          callback_url: body.callback_url.replace('http://127.0.0.1:9000', receiverUrl),
        }),
      });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as { request_id: string }).request_id);
    }

    const callbacks = await waitFor(
      () => {
        const lines = printed.split('\n').filter((l) => l.startsWith('{'));
        return lines.length >= 4 && lines.map((l) => JSON.parse(l) as Printed);
      },
      { message: 'four callbacks printed by examples/receiver.mjs' },
    );
    expect(callbacks).toHaveLength(4);
    for (const [index, { decision, body }] of REQUESTS.entries()) {
      const callback = callbacks.find((c) => c['webhook-id'] === ids[index]);
      expect(callback, `the callback of the ${decision} request`).toMatchObject({
        signature: 'valid',
        body: { station_id: body.station_id, driver_token: body.driver_token, status: decision },
      });
    }
  });

  it('shows each request, its decision and its delivered callback through the GET', async () => {
    const lines = printed.split('\n').filter((l) => l.startsWith('{'));
    const ids = lines.map((l) => (JSON.parse(l) as Printed)['webhook-id']);
    expect(ids).toHaveLength(4);
    for (const id of ids) {
      const session = await waitFor(async () => {
        const s = await getSession(service.url, id);
        return (s['callback'] as { state: string }).state === 'delivered' && s;
      });
      expect(session).toMatchObject({ request_id: id, callback: { attempts: 1 } });
      expect(['allowed', 'not_allowed', 'invalid']).toContain(session['decision']);
    }
    // The out-of-order station: decided by the catalog, without the service.
    const outOfOrder = await Promise.all(ids.map((id) => getSession(service.url, id)));
    expect(
      outOfOrder.filter((s) => s['decided_by'] === 'station_catalog').map((s) => s['reason']),
    ).toEqual(['station_out_of_order']);
  });
});
