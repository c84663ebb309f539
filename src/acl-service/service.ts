import { randomUUID } from 'node:crypto';
import type { TypeBoxFastify, TypeBoxTypeProvider } from '../http/type-provider.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyLoggerOptions,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaValidationError,
} from 'fastify';
import type { LoggerOptions as PinoLoggerOptions } from 'pino';
import { Type, type Static } from 'typebox';
import {
  errorToProblem,
  instanceOf,
  problem,
  sendProblem,
  type ProblemBody,
} from '../http/problem.js';
import { DriverToken, FIELD_RULES, StationId } from '../contract/fields.js';
import { Problem } from '../http/problem.js';
import { CENSOR, REDACT_PATHS } from '../lib/logger.js';
import { fingerprintOf, type TokenHasher } from '../lib/token-hash.js';
import { authorize, type AclStore } from './acl.js';
import { registerAclAdmin } from './admin.js';
import { AUTHORIZE_PATH } from '../contract/authorization.js';
import { registerOcpiAuthorize } from './service-ocpi.js';
import { closeConnectionsOnDrain } from '../http/drain-connections.js';
import { acceptJsonOnly } from '../http/json-body.js';

/**
 * The reference authorization service (docs/acl.md): an ACL behind `POST /api/v1/authorize`,
 * and behind OCPI's real-time authorization when it has a credentials token (`service-ocpi.ts`).
 * The worker is its only client; it maps anything but a `200` with this body to `unknown`, so
 * the service answers `200` for every well-formed question, including "who is this?"
 * (`invalid`), and a problem only for questions it cannot read.
 */

export const AuthorizeRequest = Type.Object(
  { station_id: StationId, driver_token: DriverToken },
  { description: 'May the holder of this token charge at this station?' },
);
export type AuthorizeRequest = Static<typeof AuthorizeRequest>;

export const AuthorizeResponse = Type.Object(
  {
    status: Type.Union([
      Type.Literal('allowed'),
      Type.Literal('not_allowed'),
      Type.Literal('invalid'),
    ]),
    reason: Type.String({
      description: 'active, blocked, expired, not_at_this_station or unknown_token.',
      examples: ['active'],
    }),
  },
  { description: "The ACL's answer; `invalid` when it does not know the token." },
);

const problemJson = {
  description: 'RFC 9457 problem details; never contains the driver token.',
  content: { 'application/problem+json': { schema: Problem } },
};

const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
});

/** Logged objects that may carry a driver token: the process-wide list plus the request bodies
 * Fastify could log (the authorize body's `driver_token`, the admin API's `token`, alone or in
 * an import's entries). The service applies it itself, so that a logger handed in without
 * redaction still cannot leak a token; a pino child's redaction replaces its parent's, hence
 * the full list. */
const TOKEN_PATHS = [
  'req.body.driver_token',
  'req.body.token',
  'req.body.entries[*].token',
  'token',
  '*.token',
  'req.headers.authorization',
];
const REDACT = {
  paths: [...new Set([...REDACT_PATHS, ...TOKEN_PATHS])],
  censor: CENSOR,
};

/** The body is two short strings; 16 KiB matches the public API's limit and refuses junk early. */
const BODY_LIMIT_BYTES = 16 * 1024;

/** A caller-supplied request id is used in logs only if it is short and printable: an id is for
 * correlating lines, not a channel for arbitrary text. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export interface AuthServiceOptions {
  acl: AclStore;
  hasher: TokenHasher;
  /** A logger (a child with the redaction is derived from it) or logger options (the redaction
   * is added to theirs); default: `info` to stdout. */
  logger?: FastifyBaseLogger | LoggerOptions;
  /** Clock for expiry checks, epoch milliseconds. */
  now?: () => number;
  /** The bearer token of the ACL admin API (`ADMIN_TOKEN`); without it the API does not exist. */
  adminToken?: string;
  /** The OCPI credentials token (`AUTH_OCPI_TOKEN`); without it the OCPI endpoint does not
   * exist. */
  ocpiToken?: string;
}

type LoggerOptions = FastifyLoggerOptions & PinoLoggerOptions;

/** Builds the service; the caller `listen`s and `close`s it. */
export function createAuthService(options: AuthServiceOptions): FastifyInstance {
  const app = Fastify({
    ...loggerSettings(options.logger),
    // Each decision is logged by the route at debug level and failures by the error handler;
    // Fastify's two lines per call at info would dominate the log of a busy deployment.
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: true,
    }),
    genReqId: (req) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    },
    bodyLimit: BODY_LIMIT_BYTES,
    // Every bad field is reported, and a number is not silently turned into a string.
    ajv: { customOptions: { allErrors: true, coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // SIGTERM must not wait for workers' idle keep-alive connections (see the function).
  closeConnectionsOnDrain(app);

  // The worker always sends JSON; anything else is refused as 415 instead of failing validation.
  acceptJsonOnly(app);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: 'about:blank',
      title: 'Not found',
      status: 404,
      detail: 'No such route.',
      instance: instanceOf(request),
      code: 'FST_ERR_NOT_FOUND',
    }),
  );

  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chargegate reference authorization service',
        description:
          'An ACL behind HTTP. The authorize endpoint is internal: called by Chargegate workers only. The ACL admin API needs ADMIN_TOKEN as a bearer token.',
        version: '1.0.0',
      },
      tags: [
        { name: 'authorization', description: 'The decision the workers ask for.' },
        ...(options.adminToken === undefined
          ? []
          : [{ name: 'acl admin', description: 'Operator endpoints; bearer ADMIN_TOKEN.' }]),
      ],
      ...(options.adminToken === undefined
        ? {}
        : { components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } } }),
    },
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });
  // Routes go in a plugin registered after swagger, so its onRoute hook sees all of them.
  void app.register((instance, _opts, done) => {
    registerRoutes(instance, options);
    done();
  });
  return app;
}

function registerRoutes(app: TypeBoxFastify, options: AuthServiceOptions): void {
  const { acl, hasher } = options;
  const now = options.now ?? Date.now;

  app.post(
    AUTHORIZE_PATH,
    {
      schema: {
        summary: 'Decide whether a driver token may charge at a station',
        tags: ['authorization'],
        description:
          'Answers 200 for every well-formed request: `invalid` when the ACL does not know the token. The token is never logged nor echoed.',
        headers: Type.Object({
          'x-request-id': Type.Optional(
            Type.String({ description: 'Correlates the log lines; the charging request id.' }),
          ),
        }),
        body: AuthorizeRequest,
        response: { 200: AuthorizeResponse, 400: problemJson, 413: problemJson, 415: problemJson },
      },
    },
    async (request) => {
      const { station_id: stationId, driver_token: token } = request.body;
      const tokenHash = hasher.hash(token);
      const answer = authorize(await acl.find(tokenHash), stationId, now());
      request.log.debug(
        {
          token_fingerprint: fingerprintOf(tokenHash),
          station_id: stationId.toLowerCase(),
          ...answer,
        },
        'authorization decision',
      );
      return answer;
    },
  );

  app.get('/health/live', { schema: { response: { 200: Health } } }, () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/health/ready',
    { schema: { response: { 200: Health, 503: Health } } },
    async (request, reply) => {
      try {
        await acl.ping();
        return { status: 'ok' as const, checks: { acl: 'ok' } };
      } catch (error) {
        request.log.warn({ err: error }, 'ACL store is not ready');
        return reply.code(503).send({ status: 'unavailable', checks: { acl: 'failing' } });
      }
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  if (options.ocpiToken !== undefined) {
    registerOcpiAuthorize(app, { acl, hasher, credentialsToken: options.ocpiToken, now });
  }

  if (options.adminToken !== undefined) {
    registerAclAdmin(app, { acl, hasher, adminToken: options.adminToken });
  }
}

function loggerSettings(
  logger: FastifyBaseLogger | LoggerOptions | undefined,
): { loggerInstance: FastifyBaseLogger } | { logger: LoggerOptions } {
  if (logger !== undefined && 'child' in logger && typeof logger.child === 'function') {
    return { loggerInstance: logger.child({}, { redact: REDACT }) };
  }
  const given: LoggerOptions = logger ?? { level: 'info' };
  const theirs = given.redact;
  const redact = Array.isArray(theirs)
    ? { ...REDACT, paths: [...REDACT.paths, ...theirs] }
    : { ...REDACT, ...theirs, paths: [...REDACT.paths, ...(theirs?.paths ?? [])] };
  return { logger: { ...given, redact } };
}

/** Validation problems name each bad field with a rule, never with the value that broke it. */
function validationProblem(errors: FastifySchemaValidationError[], instance?: string): ProblemBody {
  const byField = new Map<string, string>();
  for (const error of errors) {
    const params = error.params as { missingProperty?: unknown };
    const field =
      error.keyword === 'required'
        ? String(params.missingProperty)
        : (error.instancePath.split('/')[1] ?? '');
    if (byField.has(field)) continue;
    if (field === '') byField.set('body', 'must be a JSON object');
    else if (error.keyword === 'required') byField.set(field, 'is required');
    else if (field in FIELD_RULES)
      byField.set(field, FIELD_RULES[field as keyof typeof FIELD_RULES]);
    else byField.set(field, 'is not valid');
  }
  return problem(400, 'REQUEST_INVALID', {
    detail: 'The request body failed validation; see errors.',
    ...(instance === undefined ? {} : { instance }),
    errors: [...byField].map(([field, message]) => ({ field, message })),
  });
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const body =
    error.validation !== undefined
      ? validationProblem(error.validation, instanceOf(request))
      : errorToProblem(error, request);
  // The code's generic text names the public API's 16 KiB; an import's limit is larger.
  if (body.code === 'REQUEST_TOO_LARGE') {
    body.detail = `The request body exceeds ${request.routeOptions.bodyLimit} bytes; nothing was changed.`;
  }
  if (body.status >= 500) request.log.error({ err: error }, 'authorization request failed');
  else request.log.info({ code: body.code, status: body.status }, 'authorization request refused');
  return sendProblem(reply, body);
}
