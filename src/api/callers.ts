import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Client } from '../clients/port.js';
import type { ClientRegistry } from '../clients/registry.js';
import { bearerToken, sameToken } from '../lib/bearer.js';
import { retryAfterSeconds, type ClientRateLimit } from '../lib/client-limits.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';

/** Who makes a request of the public API. */
export interface Caller {
  /** The API client, when clients are configured (its key was checked); null otherwise. */
  client: Client | null;
  /** The request bears ADMIN_TOKEN: it may read any request in full. */
  operator: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

export interface CallerOptions {
  clients?: ClientRegistry;
  operatorToken?: string;
  rateLimit?: ClientRateLimit;
  /** The rate of callers without one of their own; undefined: only clients' own rates. */
  defaultRatePerSec?: number;
}

/**
 * The `onRequest` hook of the public routes: who is calling (with clients configured, a client
 * key is required: `401` without one; the `GET` also takes ADMIN_TOKEN), then the caller's rate
 * limit (`429` with `Retry-After`), per client, or per address without clients.
 */
export function identifyCaller(options: CallerOptions, route: 'start' | 'read') {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(request.headers.authorization);
    const expected = options.operatorToken;
    const operator = expected !== undefined && token !== '' && sameToken(token, expected);
    let client: Client | null = null;
    if (options.clients?.active === true && !(operator && route === 'read')) {
      client = token === '' ? null : options.clients.authenticate(token);
      if (client === null) {
        void reply.header('www-authenticate', 'Bearer realm="chargegate"');
        return sendProblem(
          reply,
          problem(401, 'CLIENT_UNAUTHORIZED', {
            instance: instanceOf(request),
            detail: 'This API needs Authorization: Bearer <API key> of a client.',
          }),
        );
      }
    }
    request.caller = { client, operator };
    const rate = client?.rateLimitPerSec ?? options.defaultRatePerSec;
    if (options.rateLimit === undefined || rate === undefined) return;
    const waitMs = options.rateLimit.take(
      client === null ? request.ip : `client:${client.id}`,
      rate,
    );
    if (waitMs === 0) return;
    void reply.header('retry-after', String(retryAfterSeconds(waitMs)));
    return sendProblem(reply, problem(429, 'RATE_LIMITED', { instance: instanceOf(request) }));
  };
}
