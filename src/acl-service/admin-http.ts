import type {
  FastifyReply,
  FastifyRequest,
  FastifySchemaCompiler,
  FastifySchemaValidationError,
} from 'fastify';
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { instanceOf, problem, sendProblem, type ProblemBody } from '../http/problem.js';
import type { ErrorCode } from '../lib/errors.js';
import { bearerToken, sameToken } from '../lib/bearer.js';
import { adminFailureLimit, retryAfterSeconds } from '../lib/client-limits.js';
import type { AclProblem } from './acl-file.js';

/**
 * How the ACL admin routes authenticate, validate and refuse: bearer `ADMIN_TOKEN`, the ACL
 * file's own checks for bodies, TypeBox for parameters, and problem+json answers.
 */

const TITLES: Partial<Record<number, string>> = {
  404: 'Not found',
  409: 'Conflict',
  429: 'Too many requests',
};

export function refusal(request: FastifyRequest, status: number, code: ErrorCode, detail?: string) {
  const body = problem(status, code, {
    instance: instanceOf(request),
    ...(detail === undefined ? {} : { detail }),
  });
  return { ...body, title: TITLES[status] ?? body.title };
}

function invalidProblem(request: FastifyRequest, problems: readonly AclProblem[]): ProblemBody {
  return problem(400, 'REQUEST_INVALID', {
    instance: instanceOf(request),
    detail: 'The request body failed validation; see errors. Nothing was changed.',
    errors: problems.map(({ path, message }) => ({ field: path || 'body', message })),
  });
}

/** Bodies are checked before schema validation, by the ACL file's own checks, so that the API
 * reports every bad entry with the messages the file loader uses; the schema, which then
 * cannot fail, documents the body and types it. */
export function checkedWith(check: (body: unknown) => AclProblem[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const problems = check(request.body);
    if (problems.length > 0) return sendProblem(reply, invalidProblem(request, problems));
  };
}

/** The admin routes validate with TypeBox, not the service's Ajv: that one converts no types
 * (an authorize body is never coerced into validity), but query strings are all text. Only
 * plain decimal integers are converted, so `1.5` or `1e2` stays a bad `limit`. */
export const validateWithTypeBox: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties;
  const convert = (data: unknown): unknown => {
    if (httpPart !== 'querystring' || typeof data !== 'object' || data === null) return data;
    const entries = Object.entries(data).map(([key, value]: [string, unknown]) =>
      properties?.[key]?.type === 'integer' && typeof value === 'string' && /^\d{1,9}$/.test(value)
        ? [key, Number(value)]
        : [key, value],
    );
    return Object.fromEntries(entries);
  };
  return (data: unknown) => {
    const value = convert(data);
    if (Value.Check(schema, value)) return { value };
    const error: FastifySchemaValidationError[] = Value.Errors(schema, value).map((e) => ({
      keyword: e.keyword,
      instancePath: e.instancePath,
      schemaPath: e.schemaPath,
      params: e.params,
      message: e.message,
    }));
    return { error };
  };
};

/**
 * An `onRequest` hook answering 401 unless the request carries `Bearer <adminToken>`, and 429
 * to an address that has failed too often lately (a guessing attack).
 */
export function requireAdminToken(adminToken: string) {
  const failures = adminFailureLimit();
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const blockedMs = failures.blockedFor(request.ip);
    if (blockedMs > 0) {
      void reply.header('retry-after', String(retryAfterSeconds(blockedMs)));
      return sendProblem(reply, refusal(request, 429, 'ADMIN_TOO_MANY_FAILURES'));
    }
    const token = bearerToken(request.headers.authorization);
    if (token !== '' && sameToken(token, adminToken)) return;
    failures.fail(request.ip);
    void reply.header('www-authenticate', 'Bearer realm="chargegate-admin"');
    const detail =
      'ACL admin endpoints need Authorization: Bearer <ACL_ADMIN_TOKEN> (ADMIN_TOKEN when unset).';
    return sendProblem(reply, refusal(request, 401, 'ADMIN_UNAUTHORIZED', detail));
  };
}
