import type { FastifyInstance } from 'fastify';

/** The URL a listening server is reachable at from this host (wildcard binds → loopback). */
export function listenUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('server is not listening on TCP');
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}
