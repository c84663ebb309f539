import Fastify from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createSigner, generateSecret } from '../src/contract/signing.js';

/**
 * The in-memory pipeline, the reference for deciding (argv[2] is the authorization URL): one
 * Node process, Fastify, an in-memory queue, undici, 64 decisions in flight, no durability, no
 * retries. It does what Chargegate does per request and nothing more: accept the POST with a
 * `request_id`, ask the authorization service, and deliver the decision to the callback URL as
 * a signed webhook. A request whose authorization or callback fails is simply dropped, and the
 * harness counts it as lost. The ratio of Chargegate's decisions per second to this process's,
 * in the same run, is the cost of a durable, retried, observable decision.
 */
const IN_FLIGHT = 64;
const SESSIONS_PATH = '/api/v1/charging-sessions';

const authUrl = process.argv[2];
if (authUrl === undefined) throw new Error('the pipeline needs the authorization URL (argv[2])');

interface Job {
  id: string;
  stationId: string;
  driverToken: string;
  callbackUrl: string;
}

const signer = createSigner([generateSecret()]);
let queue: Job[] = [];
let head = 0;
let inFlight = 0;

async function decide(job: Job): Promise<void> {
  const auth = await request(authUrl as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ station_id: job.stationId, driver_token: job.driverToken }),
  });
  const decision = (await auth.body.json()) as { status: string; reason: string };
  const body = JSON.stringify({
    request_id: job.id,
    station_id: job.stationId,
    status: decision.status === 'allowed' ? 'authorized' : 'rejected',
    reason: decision.reason,
  });
  const timestamp = Math.floor(Date.now() / 1000);
  const callback = await request(job.callbackUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': job.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signer.sign(job.id, timestamp, body),
    },
    body,
  });
  await callback.body.dump();
}

function pump(): void {
  while (inFlight < IN_FLIGHT && head < queue.length) {
    const job = queue[head] as Job;
    head += 1;
    inFlight += 1;
    decide(job)
      .catch(() => undefined)
      .finally(() => {
        inFlight -= 1;
        pump();
      });
  }
  // Drop what was taken once the queue is drained, so a long run does not keep it all.
  if (head === queue.length && head > 0) [queue, head] = [[], 0];
}

const app = Fastify({ logger: false });
app.post(SESSIONS_PATH, async (req, reply) => {
  const body = req.body as Record<string, unknown> | null;
  const [stationId, driverToken, callbackUrl] = [
    body?.['station_id'],
    body?.['driver_token'],
    body?.['callback_url'],
  ];
  if (
    typeof stationId !== 'string' ||
    typeof driverToken !== 'string' ||
    typeof callbackUrl !== 'string'
  ) {
    return reply.code(400).send({ error: 'station_id, driver_token and callback_url required' });
  }
  const id = randomUUID();
  queue.push({ id, stationId, driverToken, callbackUrl });
  pump();
  return reply.code(202).send({ request_id: id, status: 'pending' });
});
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
process.send?.({ type: 'listening', port });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
