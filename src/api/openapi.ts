import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { OpenAPIV3_1 } from 'openapi-types';
import { CallbackPayload } from './schemas.js';
import { DriverToken, StationId } from '../contract/fields.js';
import { Problem } from '../http/problem.js';

export const OPENAPI_PATH = '/openapi.json';

/** The authorization service contract (docs/architecture.md), shown to operators who plug in their own. */
const AuthorizeRequest = Type.Object(
  { station_id: StationId, driver_token: DriverToken },
  {
    description:
      'Sent by Chargegate workers (never by the public API) as POST {AUTH_SERVICE_URL}, with an x-request-id header.',
  },
);
const AuthorizeResponse = Type.Object(
  {
    status: Type.Union([
      Type.Literal('allowed'),
      Type.Literal('not_allowed'),
      Type.Literal('invalid'),
    ]),
    reason: Type.String({ description: 'Persisted next to the decision: blocked, expired, …' }),
  },
  {
    description:
      'A 200 answer. No answer within AUTH_TIMEOUT_MS, a connection error, a non-200 status, a malformed body or an open circuit make the decision `unknown`.',
  },
);

const webhookHeader = (name: string, description: string): OpenAPIV3_1.ParameterObject => ({
  name,
  in: 'header',
  required: true,
  description,
  schema: { type: 'string' },
});

const callbackWebhook: OpenAPIV3_1.PathItemObject = {
  post: {
    summary: 'The decision, POSTed to the callback_url given with the request',
    description:
      'Signed per the Standard Webhooks specification. A 2xx within CALLBACK_TIMEOUT_MS is success; 410 stops retrying; 429/503 Retry-After is honoured; anything else is retried on CALLBACK_RETRY_SCHEDULE, then dead-lettered. Redirects are not followed. May arrive more than once, always with the same webhook-id.',
    parameters: [
      webhookHeader('webhook-id', 'The request_id; the same on every retry. Deduplicate on it.'),
      webhookHeader('webhook-timestamp', 'Unix seconds when this attempt was signed.'),
      webhookHeader(
        'webhook-signature',
        'Space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per active secret.',
      ),
    ],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/CallbackPayload' } } },
    },
    responses: {
      '200': { description: 'Delivered (any 2xx).' },
      '410': { description: 'Gone: Chargegate stops retrying this callback.' },
    },
  },
};

/** Registers the OpenAPI document at `/openapi.json` and its UI at `/docs`. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chargegate',
        version,
        description:
          'Starts EV charging sessions asynchronously: a request is validated, durably stored and answered 202; an authorization service decides; the decision is POSTed to the callback URL as a signed webhook.',
      },
      tags: [
        { name: 'charging sessions', description: 'The public API.' },
        {
          name: 'stations',
          description: 'The station catalog; writes need ADMIN_TOKEN as a bearer token.',
        },
        { name: 'reservations', description: "Bookings of a station's charging points." },
        { name: 'operations', description: 'Health probes.' },
        { name: 'admin', description: 'Operator endpoints; need ADMIN_TOKEN as a bearer token.' },
      ],
      components: {
        securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
        schemas: {
          CallbackPayload,
          Problem,
          AuthorizeRequest,
          AuthorizeResponse,
        },
      },
      webhooks: { chargingSessionDecision: callbackWebhook },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, () => app.swagger());
}
