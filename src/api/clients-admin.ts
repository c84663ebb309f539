import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

const notFound = (request: FastifyRequest, reply: FastifyReply) =>
  sendProblem(reply, problem(404, 'CLIENT_NOT_FOUND', { instance: instanceOf(request) }));

/** The body's `overlap` in ms; undefined when absent, null when malformed. */
function overlapOf(body: unknown): number | undefined | null {
  const text = (body as { overlap?: unknown } | undefined)?.overlap;
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
  admin: FastifyInstance,
  deps: { store: ClientStore; registry: ClientRegistry },
): void {
  const { store, registry } = deps;
  // Bodies are checked field by field below (every bad field named as in the public API); the
  // schemas document them.
  const schema = (summary: string, extra: object = {}) => ({
    attachValidation: true,
    schema: { summary, tags, security, ...extra },
  });

  admin.get('/clients', schema('List the API clients'), async () => ({
    items: (await store.list()).map(clientView),
  }));

  admin.post(
    '/clients',
    schema('Create an API client: its first API key and webhook secret are shown once', {
      body: ClientBody,
      response: { 400: Problem, 401: Problem, 409: Problem },
    }),
    async (request, reply) => {
      const input = (request.body ?? {}) as ClientInput;
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

  admin.get<{ Params: { name: string } }>(
    '/clients/:name',
    schema('Read an API client', { params: NameParams, response: { 404: Problem } }),
    async (request, reply) => {
      const found = (await store.list()).find((c) => c.name === request.params.name);
      return found === undefined ? notFound(request, reply) : clientView(found);
    },
  );

  admin.patch<{ Params: { name: string } }>(
    '/clients/:name',
    schema("Change an API client's callback hosts or rate limit", {
      params: NameParams,
      body: ClientBody,
      response: { 400: Problem, 404: Problem },
    }),
    async (request, reply) => {
      const input = (request.body ?? {}) as ClientInput;
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
    admin.post<{ Params: { name: string } }>(
      `/clients/:name/${what}`,
      schema(
        what === 'keys'
          ? 'Add an API key (shown once); the earlier ones keep working for the overlap'
          : 'Add a webhook secret (shown once); both sign during the overlap',
        {
          params: NameParams,
          body: Type.Optional(RotationBody),
          response: { 400: Problem, 404: Problem },
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

  admin.delete<{ Params: { name: string } }>(
    '/clients/:name',
    schema('Delete an API client: its keys stop working at once', {
      params: NameParams,
      response: { 404: Problem },
    }),
    async (request, reply) => {
      if (!(await store.remove(request.params.name))) return notFound(request, reply);
      await registry.refresh();
      request.log.info({ client: request.params.name }, 'client deleted');
      return reply.code(204).send();
    },
  );
}
