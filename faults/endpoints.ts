import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { RecordedRequest, Reply, Script } from '../test/helpers/http.js';

/**
 * The collaborators the suite breaks on purpose: the authorization service and the callback
 * receiver. Like `test/helpers/http.ts` they are real HTTP servers on 127.0.0.1 answering from
 * a script; unlike it they can go down (the listening socket closed and every connection
 * destroyed, so clients get "connection refused") and come back on the same port.
 */
export class RestartableServer {
  #server: Server | null = null;
  readonly #responses = new Set<ServerResponse>();
  port = 0;
  /** Requests being answered right now. */
  inFlight = 0;

  constructor(public script: Script) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get up(): boolean {
    return this.#server !== null;
  }

  async listen(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer((req, res) => this.#handle(req, res));
    // Node's default keep-alive (5 s) is fine; a closed server destroys them all anyway.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Down: no listening socket (connection refused), and every open connection cut. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    for (const res of this.#responses) res.destroy();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      this.inFlight += 1;
      this.#responses.add(res);
      res.on('close', () => {
        this.inFlight -= 1;
        this.#responses.delete(res);
      });
      void Promise.resolve(this.script(recorded, 0)).then((reply: Reply | 'hang') => {
        if (reply === 'hang' || res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      });
    });
  }
}

/** What a driver token's first letters ask the stub ACL to answer (see `load.ts`). */
export const ANSWERS: Record<string, { status: string; reason: string }> = {
  A: { status: 'allowed', reason: 'active' },
  B: { status: 'not_allowed', reason: 'blocked' },
  I: { status: 'invalid', reason: 'unknown_token' },
};

/** The decision a token should get when the authorization service answers. */
export function expectedDecision(token: string): string {
  return ANSWERS[token.charAt(4)]?.status ?? 'invalid';
}

/** `slow` answers within the worker's timeout but slowly, so that calls are in flight when a
 * worker is stopped; `hang` never answers (the timeout turns it into `unknown`). */
export type AuthMode = 'answer' | 'slow' | 'hang';

/**
 * The authorization service stub: answers by token kind after a few milliseconds (or a few
 * hundred, when slow), or hangs, or is down.
 */
export async function startAuthStub(random: () => number): Promise<{
  server: RestartableServer;
  setMode: (mode: AuthMode) => void;
  calls: () => number;
}> {
  let mode: AuthMode = 'answer';
  let calls = 0;
  const server = new RestartableServer(async (request) => {
    calls += 1;
    if (mode === 'hang') return 'hang';
    const { driver_token: token } = JSON.parse(request.body) as { driver_token: string };
    // A little latency, so that kills land while calls are in flight.
    const latency = mode === 'slow' ? 300 + random() * 500 : 2 + random() * 20;
    await new Promise((resolve) => setTimeout(resolve, Math.floor(latency)));
    return { status: 200, body: JSON.stringify(ANSWERS[token.charAt(4)] ?? ANSWERS['I']) };
  });
  await server.listen();
  return { server, setMode: (next) => (mode = next), calls: () => calls };
}

export interface Callback {
  webhookId: string;
  receivedAt: number;
  signatureValid: boolean;
  token: string | null;
  status: string | null;
  stationId: string | null;
  body: string;
}

/** The callback receiver: answers `200` at once and records every delivery. */
export async function startReceiver(secret: string): Promise<{
  server: RestartableServer;
  callbacks: Callback[];
}> {
  const callbacks: Callback[] = [];
  const verifier = new Webhook(secret);
  const server = new RestartableServer((request) => {
    const header = (name: string) => String(request.headers[name] ?? '');
    let signatureValid = true;
    try {
      verifier.verify(request.body, {
        'webhook-id': header('webhook-id'),
        'webhook-timestamp': header('webhook-timestamp'),
        'webhook-signature': header('webhook-signature'),
      });
    } catch {
      signatureValid = false;
    }
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(request.body) as Record<string, unknown>;
    } catch {
      // Recorded with null fields: the checker reports it.
    }
    const text = (value: unknown) => (typeof value === 'string' ? value : null);
    callbacks.push({
      webhookId: header('webhook-id'),
      receivedAt: request.receivedAt,
      signatureValid,
      token: text(parsed['driver_token']),
      status: text(parsed['status']),
      stationId: text(parsed['station_id']),
      body: request.body,
    });
    return { status: 200, body: '' };
  });
  await server.listen();
  return { server, callbacks };
}
