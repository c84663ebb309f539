import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monoMs } from './clock.js';

/**
 * The collaborators the service calls, each run in a process of its own (argv[2] says which)
 * so that neither shares an event loop with the load generator:
 *
 * - `auth`: the authorization service. Answers `allowed` at once, or, after a `mode: hang`
 *   message, holds every request open without answering.
 * - `receiver`: the callback receiver. Answers `204` at once and streams each `webhook-id`
 *   with its arrival time (CLOCK_MONOTONIC, see clock.ts) to the parent, in one message per
 *   turn of its event loop: a closed-loop driver waiting for a callback learns of it at once.
 */
export type StubMessage =
  | { type: 'listening'; port: number }
  | { type: 'arrivals'; ids: string[]; times: number[] }
  | { type: 'stats'; requests: number; maxInFlight: number };

export type StubCommand = { type: 'mode'; mode: 'healthy' | 'hang' } | { type: 'stats' };

const ALLOWED = JSON.stringify({ status: 'allowed', reason: 'active' });

const role = process.argv[2];
const send = (message: StubMessage) => process.send?.(message);
let mode: 'healthy' | 'hang' = 'healthy';
let requests = 0;
let inFlight = 0;
let maxInFlight = 0;
let ids: string[] = [];
let times: number[] = [];
let flushing = false;

/** The arrivals of this turn in one message: prompt, yet batched under load. */
function flush(): void {
  flushing = false;
  send({ type: 'arrivals', ids, times });
  ids = [];
  times = [];
}

function track(res: ServerResponse): void {
  requests += 1;
  inFlight += 1;
  maxInFlight = Math.max(maxInFlight, inFlight);
  res.on('close', () => (inFlight -= 1));
}

const server = createServer((req, res) => {
  track(res);
  if (role === 'receiver') {
    const id = req.headers['webhook-id'];
    ids.push(typeof id === 'string' ? id : '');
    times.push(monoMs());
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  }
  req.resume();
  req.on('end', () => {
    if (role === 'receiver') {
      res.writeHead(204).end();
    } else if (mode === 'healthy') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(ALLOWED);
    }
    // In hang mode the response is never written: the service's timeout has to end it.
  });
});
server.keepAliveTimeout = 60_000;

// Every command is answered, so the parent knows a mode change is in force before it loads.
process.on('message', (command: StubCommand) => {
  if (command.type === 'mode') mode = command.mode;
  send({ type: 'stats', requests, maxInFlight });
});
process.on('disconnect', () => process.exit(0));

if (role !== 'auth' && role !== 'receiver') throw new Error(`unknown stub role "${role}"`);
server.listen(0, '127.0.0.1', () => {
  send({ type: 'listening', port: (server.address() as AddressInfo).port });
});
