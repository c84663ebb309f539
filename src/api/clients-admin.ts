import type { FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { checkedByRoute, type TypeBoxFastify } from '../http/type-provider.js';
import { Type } from 'typebox';
import { parseDuration } from '../config/config.js';
import type { ClientStore } from '../clients/port.js';
import type { ClientRegistry } from '../clients/registry.js';
import {
  changeClient,
  clientInputErrors,
  clientView,
  createClient,
  rotateKey,
  rotateSecret,
  type ClientInput,
} from '../clients/manage.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';
import { Problem } from '../http/problem.js';

const security = [{ adminToken: [] }];
const tags = ['clients'];
const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });
const ClientBody = Type.Object(
  {
    name: Type.Optional(Type.String()),
    callback_hosts: Type.Optional(Type.Array(Type.String())),
    rate_limit_per_sec: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  },
  { description: 'Validated field by field; every bad field is named in the 400.' },
);
const Instant = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
/** A client as the admin API shows it (`clientView`): never a key or a secret. */
const ClientView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  callback_hosts: Type.Array(Type.String()),
  rate_limit_per_sec: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  api_keys: Type.Array(
    Type.Object({
      id: Type.String(),
      prefix: Type.String(),
      created_at: Instant,
      expires_at: Instant,
    }),
  ),
  webhook_secrets: Type.Array(
    Type.Object({ id: Type.String(), created_at: Instant, expires_at: Instant }),
  ),
});
/** What a creation or rotation shows once: the new key, secret, or both. */
const Credentials = Type.Object({
  client: ClientView,
  api_key: Type.Optional(Type.String()),
  webhook_secret: Type.Optional(Type.String()),
});
const RotationBody = Type.Object({
  overlap: Type.Optional(
    Type.String({ description: 'How long the earlier ones keep working, e.g. 24h (default)' }),
  ),
});

function invalid(
  request: FastifyRequest,
  reply: FastifyReply,
  errors: { field: string; message: string }[],
) {
  return sendProblem(
    reply,
    problem(400, 'REQUEST_INVALID', {
      instance: instanceOf(request),
      detail: `${errors.length} invalid field${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.field).join(', ')}.`,
      errors,
    }),
  );
}

/** The fields of a body, to be checked one by one; none when it is not an object. */
const inputOf = (body: unknown): ClientInput =>
  typeof body === 'object' && body !== null ? body : {};

const notFound = (request: FastifyRequest, reply: FastifyReply) =>
  sendProblem(reply, problem(404, 'CLIENT_NOT_FOUND', { instance: instanceOf(request) }));

/** The body's `overlap` in ms; undefined when absent, null when malformed. */
function overlapOf(body: unknown): number | undefined | null {
  const text =
    typeof body === 'object' && body !== null && 'overlap' in body ? body.overlap : undefined;
  if (text === undefined) return undefined;
  return typeof text === 'string' ? parseDuration(text) : null;
}

/**
 * The clients' admin API (within the admin API, so behind ADMIN_TOKEN): list, create, read,
 * change, rotate a key or the webhook secret, delete. Keys and secrets appear once, in the
 * answer that made them. Each change is read back into this process's registry at once; other
 * processes see it within `CLIENT_REFRESH_MS`.
 */
export function registerClientRoutes(
  admin: TypeBoxFastify,
  deps: { store: ClientStore; registry: ClientRegistry },
): void {
  const { store, registry } = deps;
  // Bodies are checked field by field below (every bad field named as in the public API); the
  // schemas document them.
  const schema = <Schema extends FastifySchema>(summary: string, extra: Schema) => ({
    attachValidation: true,
    schema: { summary, tags, security, ...extra },
  });

  admin.get('/clients', schema('List the API clients', {}), async () => ({
    items: (await store.list()).map(clientView),
  }));

  admin.post(
    '/clients',
    schema('Create an API client: its first API key and webhook secret are shown once', {
      body: checkedByRoute(ClientBody),
      response: { 201: Credentials, 400: Problem, 401: Problem, 409: Problem },
    }),
    async (request, reply) => {
      const input = inputOf(request.body);
      const errors = clientInputErrors(input, false);
      if (errors.length > 0) return invalid(request, reply, errors);
      const created = await createClient(store, input);
      if (created === null) {
        return sendProblem(reply, problem(409, 'CLIENT_EXISTS', { instance: instanceOf(request) }));
      }
      await registry.refresh();
      request.log.info({ client: created.client.name }, 'client created');
      return reply.code(201).send({
        client: clientView(created.client),
        api_key: created.apiKey,
        webhook_secret: created.webhookSecret,
      });
    },
  );

  admin.get(
    '/clients/:name',
    schema('Read an API client', {
      params: NameParams,
      response: { 200: ClientView, 404: Problem },
    }),
    async (request, reply) => {
      const found = (await store.list()).find((c) => c.name === request.params.name);
      return found === undefined ? notFound(request, reply) : clientView(found);
    },
  );

  admin.patch(
    '/clients/:name',
    schema("Change an API client's callback hosts or rate limit", {
      params: NameParams,
      body: checkedByRoute(ClientBody),
      response: { 200: ClientView, 400: Problem, 404: Problem },
    }),
    async (request, reply) => {
      const input = inputOf(request.body);
      const errors = clientInputErrors(input, true);
      if (errors.length > 0) return invalid(request, reply, errors);
      const changed = await changeClient(store, request.params.name, input);
      if (changed === null) return notFound(request, reply);
      await registry.refresh();
      request.log.info({ client: changed.name }, 'client changed');
      return clientView(changed);
    },
  );

  const rotation = (what: 'keys' | 'webhook-secrets') =>
    admin.post(
      `/clients/:name/${what}`,
      schema(
        what === 'keys'
          ? 'Add an API key (shown once); the earlier ones keep working for the overlap'
          : 'Add a webhook secret (shown once); both sign during the overlap',
        {
          params: NameParams,
          body: checkedByRoute(Type.Optional(RotationBody)),
          response: { 201: Credentials, 400: Problem, 404: Problem },
        },
      ),
      async (request, reply) => {
        const overlapMs = overlapOf(request.body);
        if (overlapMs === null) {
          return invalid(request, reply, [
            { field: 'overlap', message: 'must be a duration like 30m, 24h or 7d' },
          ]);
        }
        const { name } = request.params;
        const rotated =
          what === 'keys'
            ? await rotateKey(store, name, overlapMs)
            : await rotateSecret(store, name, overlapMs);
        if (rotated === null) return notFound(request, reply);
        await registry.refresh();
        request.log.info({ client: name, rotated: what }, 'client credential rotated');
        return reply.code(201).send({
          client: clientView(rotated.client),
          ...('apiKey' in rotated
            ? { api_key: rotated.apiKey }
            : { webhook_secret: rotated.webhookSecret }),
        });
      },
    );
  rotation('keys');
  rotation('webhook-secrets');

  admin.delete(
    '/clients/:name',
    schema('Delete an API client: its keys stop working at once', {
      params: NameParams,
      response: { 204: Type.Null({ description: 'Deleted.' }), 404: Problem },
    }),
    async (request, reply) => {
      if (!(await store.remove(request.params.name))) return notFound(request, reply);
      await registry.refresh();
      request.log.info({ client: request.params.name }, 'client deleted');
      return reply.code(204).send(null);
    },
  );
}
