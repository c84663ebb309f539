import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TLiteral, type TSchema, type TSchemaOptions, type TUnion } from 'typebox';

/**
 * A Fastify instance whose routes take the types of their body, parameters, query, headers and
 * answers from their TypeBox schemas: a handler reads what its schema checked without casts,
 * and a route that lists its answers can only send what they document. Only the type is
 * borrowed from `@fastify/type-provider-typebox` (a development dependency): validation stays
 * each server's own (Ajv for the public API and the authorize endpoint, TypeBox for the ACL
 * admin routes).
 */
export type TypeBoxFastify = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export type { TypeBoxTypeProvider };

/**
 * `anyOf` one constant per value, typed as the union of `values`. `Type.Union` of a mapped
 * array types as `never`, having no tuple to read its members from; this one is typed as a
 * union of one literal of all the values, which is what it accepts.
 */
export function literals<const Values extends readonly string[]>(
  values: Values,
  options?: TSchemaOptions,
) {
  return Type.Union(
    values.map((value) => Type.Literal(value)),
    options,
  ) as TUnion<[TLiteral<Values[number]>]>;
}

/**
 * The schema of a part that its route checks itself, field by field (`attachValidation`): it
 * documents the part, but what arrives may not fit it, so the route reads it as `unknown`.
 */
export const checkedByRoute = (schema: TSchema) => Type.Unsafe<unknown>(schema);
