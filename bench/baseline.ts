import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';

/**
 * The baseline: a bare Fastify server, in a process of its own, with the service's route
 * answering `202` and doing nothing else. Fastify still parses the JSON body, as it would for
 * any route, so the ratio to it is the cost of what Chargegate does per request.
 */
const app = Fastify({ logger: false });
app.post('/api/v1/charging-sessions', async (_request, reply) => {
  await reply.code(202).send();
});
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
process.send?.({ type: 'listening', port });
process.on('disconnect', () => void app.close().then(() => process.exit(0)));
