import { Type } from 'typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode } from '../lib/errors.js';
import { MALFORMED_JSON } from './json-body.js';

/** RFC 9457 problem details. Every 4xx/5xx of the public API has this shape. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  code: string;
  errors?: { field: string; message: string }[];
}

const TITLES: Partial<Record<ErrorCode, string>> = {
  REQUEST_INVALID: 'Invalid request',
  REQUEST_MALFORMED_JSON: 'Malformed JSON',
  REQUEST_TOO_LARGE: 'Request body too large',
  REQUEST_UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  IDEMPOTENCY_KEY_INVALID: 'Invalid idempotency key',
  BACKLOG_FULL: 'Service overloaded',
  SESSION_NOT_FOUND: 'Not found',
  ROUTE_NOT_FOUND: 'Not found',
  RATE_LIMITED: 'Too many requests',
  ADMIN_TOO_MANY_FAILURES: 'Too many requests',
  STORE_UNAVAILABLE: 'Service unavailable',
  INTERNAL_ERROR: 'Internal error',
  ADMIN_UNAUTHORIZED: 'Unauthorized',
  CLIENT_UNAUTHORIZED: 'Unauthorized',
  CLIENT_NOT_FOUND: 'Not found',
  CLIENT_EXISTS: 'Conflict',
  HISTORY_UNAVAILABLE: 'Service unavailable',
  DEAD_LETTER_NOT_FOUND: 'Not found',
  STATION_NOT_FOUND: 'Not found',
  RESERVATION_NOT_FOUND: 'Not found',
  RESERVATION_FULL: 'Conflict',
  STATION_OUT_OF_ORDER: 'Conflict',
  DEAD_LETTER_UNREADABLE: 'Dead letter unreadable',
  DEAD_LETTER_SESSION_GONE: 'Dead letter without its session',
};

/** Problem type URIs are URNs: stable identifiers that do not pretend to be web pages. */
export function problemType(code: string): string {
  return `urn:chargegate:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

export function problem(
  status: number,
  code: ErrorCode,
  options: { detail?: string; instance?: string; errors?: ProblemBody['errors'] } = {},
): ProblemBody {
  return {
    type: problemType(code),
    title: TITLES[code] ?? code,
    status,
    detail: options.detail ?? ERROR_CODES[code],
    ...(options.instance === undefined ? {} : { instance: options.instance }),
    code,
    ...(options.errors === undefined ? {} : { errors: options.errors }),
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

/** A problem's `instance`: the request's path, without its query string. */
export function instanceOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/**
 * Turns every error Fastify raises before or inside a handler into a problem. Messages of
 * framework errors are generic and never contain the body, so no driver token can leak here.
 */
export function errorToProblem(error: FastifyError, request: FastifyRequest): ProblemBody {
  const instance = instanceOf(request);
  const status = error.statusCode ?? 500;
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'REQUEST_UNSUPPORTED_MEDIA_TYPE', {
        instance,
        detail: 'The request body must be application/json.',
      });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'REQUEST_TOO_LARGE', { instance });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case MALFORMED_JSON:
      return problem(400, 'REQUEST_MALFORMED_JSON', {
        instance,
        detail: 'The request body is not valid JSON, or uses a forbidden key such as __proto__.',
      });
  }
  if (status >= 400 && status < 500) return clientErrorProblem(error, status, instance);
  if (error instanceof AppError && error.code === 'STORE_UNAVAILABLE') {
    return problem(503, 'STORE_UNAVAILABLE', {
      instance,
      detail: 'The request could not be processed now; nothing was accepted. Retry later.',
    });
  }
  return problem(500, 'INTERNAL_ERROR', { instance });
}

/** Other framework 4xx errors (bad URL, too long a parameter, …): their messages are generic
 * or name the path, never the body. */
function clientErrorProblem(
  error: FastifyError,
  status: number,
  instance: string | undefined,
): ProblemBody {
  return {
    type: 'about:blank',
    title: error.name || 'Bad request',
    status,
    detail: error.message,
    instance,
    code: error.code ?? 'REQUEST_INVALID',
  };
}

/** The problem document's schema, for routes' response declarations and the OpenAPI document. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable Chargegate error code (see docs/api.md).' }),
    errors: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ description: 'Name of the offending body field or header.' }),
          message: Type.String(),
        }),
      ),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json).' },
);
