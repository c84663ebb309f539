import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

/** What a scripted server does with one request: answer, or hang until the server closes. */
export type Script = (
  request: RecordedRequest,
  index: number,
) => Reply | 'hang' | Promise<Reply | 'hang'>;

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface ScriptedServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Requests being handled right now, and the most ever at once. */
  inFlight: number;
  maxInFlight: number;
  script: Script;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1, port 0, whose every answer is scripted by the test: the
 * authorization service and callback receivers in tests are these, never mocks.
 */
export async function startScriptedServer(script: Script): Promise<ScriptedServer> {
  const hanging = new Set<ServerResponse>();
  const state: ScriptedServer = {
    url: '',
    port: 0,
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    script,
    close: async () => {},
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      const index = state.requests.push(recorded) - 1;
      state.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      res.on('close', () => {
        state.inFlight -= 1;
        hanging.delete(res);
      });
      void Promise.resolve(state.script(recorded, index)).then((reply) => {
        if (reply === 'hang') {
          hanging.add(res);
          return;
        }
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.port = port;
  state.url = `http://127.0.0.1:${port}`;
  state.close = async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

/** An ACL stub that answers the contract from a map of token → answer. */
export function aclScript(answers: Record<string, { status: string; reason: string }>): Script {
  return (request) => {
    const { driver_token } = JSON.parse(request.body) as { driver_token: string };
    const answer = answers[driver_token] ?? { status: 'invalid', reason: 'unknown_token' };
    return { status: 200, body: JSON.stringify(answer) };
  };
}

export const ok: Script = () => ({ status: 200, body: '{}' });
