import { Type } from 'typebox';
import type { TypeBoxFastify } from '../http/type-provider.js';
import type { DeadLetters } from '../callbacks/dead-letters.js';
import { Problem } from '../http/problem.js';

const security = [{ adminToken: [] }];
const tags = ['admin'];

/** Group pages are bounded like letter pages; a console shows a screenful. */
const MAX_GROUP_PAGE = 500;
const DEFAULT_GROUP_PAGE = 20;

/** A dead letter's id, as the listings hand it out (a page cursor or a replay bound). */
export const DeadLetterId = Type.String({ pattern: '^[0-9A-Za-z_-]{1,64}$' });

/** The receiver host (`host:port` as in the callback URL) and the reason of a group. */
export const GroupFilter = {
  host: Type.String({ maxLength: 300, description: 'Receiver host, `host:port` as in the URL.' }),
  reason: Type.String({ maxLength: 300, description: 'The dead letter reason, e.g. `http_500`.' }),
};

const GroupView = Type.Object({
  host: Type.String(),
  reason: Type.String(),
  count: Type.Integer(),
  oldest_at: Type.String({ format: 'date-time' }),
  newest_at: Type.String({ format: 'date-time' }),
});

/**
 * Dead letters at scale: grouped by receiver host and reason, and replayed a group at a time.
 * A listing of groups tells how many letters each holds and the newest letter counted
 * (`through`); a replay given that `through` sends only letters that were counted, so what an
 * operator confirmed is what is sent. Registered inside the admin plugin.
 */
export function registerDeadLetterGroupRoutes(
  admin: TypeBoxFastify,
  deadLetters: DeadLetters,
): void {
  admin.get(
    '/dead-letters/groups',
    {
      schema: {
        summary: 'Dead-lettered callbacks grouped by receiver host and reason, largest first',
        tags,
        security,
        querystring: Type.Object({
          limit: Type.Optional(
            Type.String({
              pattern: '^[1-9][0-9]{0,2}$',
              description: `Groups per page, 1 to ${MAX_GROUP_PAGE}; default ${DEFAULT_GROUP_PAGE}.`,
            }),
          ),
          offset: Type.Optional(
            Type.String({
              pattern: '^[0-9]{1,6}$',
              description: 'The `next_offset` of the previous page.',
            }),
          ),
        }),
        response: {
          200: Type.Object({
            groups: Type.Array(GroupView),
            total_groups: Type.Integer(),
            total: Type.Integer({ description: 'Dead letters in all groups.' }),
            through: Type.Union([Type.String(), Type.Null()], {
              description: 'The newest letter counted; give it to a replay to send no more.',
            }),
            next_offset: Type.Optional(Type.Integer()),
          }),
          400: Problem,
          401: Problem,
        },
      },
    },
    async (request, reply) => {
      const groups = await deadLetters.groups({
        limit: Math.min(MAX_GROUP_PAGE, Number(request.query.limit ?? DEFAULT_GROUP_PAGE)),
        offset: Number(request.query.offset ?? 0),
      });
      return reply.header('cache-control', 'no-store').send(groups);
    },
  );

  admin.post(
    '/dead-letters/groups/replay',
    {
      schema: {
        summary: "Replay one group's dead-lettered callbacks (one receiver host, one reason)",
        tags,
        security,
        querystring: Type.Object({
          ...GroupFilter,
          through: Type.Optional(DeadLetterId),
        }),
        response: {
          202: Type.Object({
            replayed: Type.Integer(),
            host: Type.String(),
            reason: Type.String(),
          }),
          400: Problem,
          401: Problem,
        },
      },
    },
    async (request, reply) => {
      const { host, reason, through } = request.query;
      const replayed = await deadLetters.replayWhere({ host, reason }, through);
      request.log.info({ host, reason, replayed }, 'dead-letter group replayed');
      return reply.code(202).send({ replayed, host, reason });
    },
  );
}
