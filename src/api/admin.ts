import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxFastify } from '../http/type-provider.js';
import { Type } from 'typebox';
import type { DeadLetters } from '../callbacks/dead-letters.js';
import { bearerToken, sameToken } from '../lib/bearer.js';
import { adminFailureLimit, retryAfterSeconds } from '../lib/client-limits.js';
import { Problem } from '../http/problem.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';
import { registerStatsRoute, type StatsSource } from './stats.js';
import { registerClientRoutes } from './clients-admin.js';
import type { ClientStore } from '../clients/port.js';
import type { ClientRegistry } from '../clients/registry.js';
import { registerHistoryRoute } from './history.js';
import { DeadLetterId, GroupFilter, registerDeadLetterGroupRoutes } from './dead-letter-groups.js';
import type { DecisionStore } from '../store/port.js';

export const ADMIN_PREFIX = '/admin/v1';

/** Listing pages are bounded so one call cannot make the process load every dead letter. */
const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;

const DeadLetterView = Type.Object({
  id: Type.String(),
  request_id: Type.String(),
  station_id: Type.String(),
  callback_url: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  reason: Type.String(),
  dead_lettered_at: Type.String({ format: 'date-time' }),
});

const security = [{ adminToken: [] }];
const tags = ['admin'];

function unauthorized(request: FastifyRequest, reply: FastifyReply) {
  void reply.header('www-authenticate', 'Bearer realm="chargegate-admin"');
  return sendProblem(
    reply,
    problem(401, 'ADMIN_UNAUTHORIZED', {
      instance: instanceOf(request),
      detail: 'Admin endpoints need Authorization: Bearer <ADMIN_TOKEN>.',
    }),
  );
}

/** Refuses an address that failed to authenticate too often, whatever token it sends now. */
export function tooManyFailures(request: FastifyRequest, reply: FastifyReply, blockedMs: number) {
  void reply.header('retry-after', String(retryAfterSeconds(blockedMs)));
  return sendProblem(
    reply,
    problem(429, 'ADMIN_TOO_MANY_FAILURES', { instance: instanceOf(request) }),
  );
}

/**
 * An `onRequest` hook that lets through only a request bearing `adminToken`; an address that
 * fails too often is refused for a while (`429`), whatever it sends then.
 */
export function adminGuard(adminToken: string) {
  const failures = adminFailureLimit();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const blockedMs = failures.blockedFor(request.ip);
    if (blockedMs > 0) return tooManyFailures(request, reply, blockedMs);
    const token = bearerToken(request.headers.authorization);
    if (!token || !sameToken(token, adminToken)) {
      failures.fail(request.ip);
      return unauthorized(request, reply);
    }
  };
}

/**
 * The admin API (bearer `ADMIN_TOKEN`): dead-lettered callbacks, listed and replayed, and the
 * console's stats. Only registered when a token is configured; without one, these routes do
 * not exist (404).
 */
export function registerAdminRoutes(
  app: TypeBoxFastify,
  deps: {
    adminToken: string;
    deadLetters: DeadLetters;
    stats: StatsSource;
    clients?: { store: ClientStore; registry: ClientRegistry };
    store: Pick<DecisionStore, 'history'>;
  },
): void {
  void app.register(
    (admin: TypeBoxFastify, _options, done) => {
      admin.addHook('onRequest', adminGuard(deps.adminToken));

      registerStatsRoute(admin, deps.stats);
      if (deps.clients !== undefined) registerClientRoutes(admin, deps.clients);
      registerHistoryRoute(admin, deps.store);
      registerDeadLetterGroupRoutes(admin, deps.deadLetters);

      admin.get(
        '/dead-letters',
        {
          schema: {
            summary:
              'List dead-lettered callbacks, oldest first (of one group with host and reason)',
            tags,
            security,
            querystring: Type.Object({
              limit: Type.Optional(
                Type.String({
                  pattern: '^[1-9][0-9]{0,2}$',
                  description: `Page size, 1 to ${MAX_PAGE}; default ${DEFAULT_PAGE}.`,
                }),
              ),
              after: Type.Optional({
                ...DeadLetterId,
                description: 'The `next` of the previous page.',
              }),
              host: Type.Optional(GroupFilter.host),
              reason: Type.Optional(GroupFilter.reason),
            }),
            response: {
              200: Type.Object({
                items: Type.Array(DeadLetterView),
                next: Type.Optional(Type.String()),
              }),
              400: Problem,
              401: Problem,
            },
          },
        },
        async (request) =>
          deps.deadLetters.list({
            limit: Math.min(MAX_PAGE, Number(request.query.limit ?? DEFAULT_PAGE)),
            ...(request.query.after === undefined ? {} : { after: request.query.after }),
            ...(request.query.host === undefined ? {} : { host: request.query.host }),
            ...(request.query.reason === undefined ? {} : { reason: request.query.reason }),
          }),
      );

      admin.post(
        '/dead-letters/:id/replay',
        {
          schema: {
            summary: 'Replay one dead-lettered callback (same webhook-id, fresh retry schedule)',
            tags,
            security,
            params: Type.Object({ id: Type.String() }),
            response: {
              202: Type.Object({ replayed: Type.Integer(), request_id: Type.String() }),
              401: Problem,
              404: Problem,
              409: Problem,
            },
          },
        },
        async (request, reply) => {
          const result = await deps.deadLetters.replay(request.params.id);
          if (result === null) {
            return sendProblem(
              reply,
              problem(404, 'DEAD_LETTER_NOT_FOUND', { instance: instanceOf(request) }),
            );
          }
          if ('refused' in result) {
            return sendProblem(
              reply,
              problem(409, result.refused, { instance: instanceOf(request) }),
            );
          }
          const requestId = result.replayed;
          request.log.info(
            { dead_letter: request.params.id, request_id: requestId },
            'dead letter replayed',
          );
          return reply.code(202).send({ replayed: 1, request_id: requestId });
        },
      );

      admin.post(
        '/dead-letters/replay',
        {
          schema: {
            summary: 'Replay every dead-lettered callback (none newer than `through`)',
            tags,
            security,
            querystring: Type.Object({ through: Type.Optional(DeadLetterId) }),
            response: {
              202: Type.Object({ replayed: Type.Integer() }),
              400: Problem,
              401: Problem,
            },
          },
        },
        async (request, reply) => {
          const replayed = await deps.deadLetters.replayWhere({}, request.query.through);
          request.log.info({ replayed }, 'all dead letters replayed');
          return reply.code(202).send({ replayed });
        },
      );
      done();
    },
    { prefix: ADMIN_PREFIX },
  );
}
