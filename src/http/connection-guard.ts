import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Bounds the connections a server holds: `maxConnections` in all (Node refuses the rest) and
 * `maxPerClient` from one client address, whose further connections are closed at once. A
 * single host opening connections and never finishing its requests can then hold only its own
 * share until the request timeout cuts each one off.
 */
export function limitConnections(
  server: Server,
  limits: { maxConnections: number; maxPerClient: number; onRefused?: () => void },
): void {
  server.maxConnections = limits.maxConnections;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? '';
    const count = (open.get(client) ?? 0) + 1;
    if (count > limits.maxPerClient) {
      limits.onRefused?.();
      socket.destroy();
      return;
    }
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left <= 0) open.delete(client);
      else open.set(client, left);
    });
  });
}

/**
 * Closes every connection still open `ms` after the server started closing: a client that
 * never finishes its request (or reads its answer slowly) cannot hold a shutdown past
 * SHUTDOWN_TIMEOUT_MS. Requests cut off this way get no answer; they were never acknowledged.
 */
export function forceCloseAfter(server: Server, ms: number): () => void {
  const timer = setTimeout(() => server.closeAllConnections(), ms);
  timer.unref();
  return () => clearTimeout(timer);
}
