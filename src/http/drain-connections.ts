import type { FastifyInstance } from 'fastify';

/** While a server closes, connections left idle by their last answer are closed this often. */
const IDLE_REAP_INTERVAL_MS = 100;

/**
 * Makes `app.close()` end kept-alive connections as soon as they have nothing left to answer.
 *
 * Node's `server.close()` closes the connections that are idle at that moment, and Fastify
 * answers requests that arrive later with `503` and `Connection: close`. But a request already
 * in flight was answered with `Connection: keep-alive`, and its connection, idle afterwards,
 * held `close()` open until the keep-alive timeout (72 s): SIGTERM then took a minute instead
 * of finishing in-flight work within SHUTDOWN_TIMEOUT_MS, and an orchestrator would SIGKILL
 * the process. Found by the fault suite (`faults/`); `test/shutdown-keep-alive.test.ts`.
 *
 * So, once closing: every answer says `Connection: close` (the client does not reuse the
 * connection, and Node ends it after the answer), and connections that still become idle (an
 * answer whose headers were out before closing began) are closed on a short interval.
 */
export function closeConnectionsOnDrain(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    const reaper = setInterval(() => app.server.closeIdleConnections(), IDLE_REAP_INTERVAL_MS);
    reaper.unref();
    app.server.once('close', () => clearInterval(reaper));
    done();
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
}
