import type { FastifySchemaValidationError } from 'fastify';
import { type StartSessionRequest } from './schemas.js';
import { FIELD_RULES } from '../contract/fields.js';

export interface FieldError {
  field: string;
  message: string;
}

type Field = keyof typeof FIELD_RULES;
const FIELDS = Object.keys(FIELD_RULES) as Field[];

/** Extra checks on a callback URL that JSON Schema cannot express; `null` when acceptable. */
export type CallbackUrlCheck = (url: URL) => string | null;

/**
 * Collects every problem with a start request: Ajv's schema errors (one per field, in human
 * words) and the semantic checks on the callback URL. Messages never contain submitted values.
 */
export function startRequestErrors(
  body: unknown,
  schemaErrors: FastifySchemaValidationError[] | undefined,
  checkCallbackUrl: CallbackUrlCheck,
): FieldError[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ field: 'body', message: 'must be a JSON object' }];
  }
  const bad = new Map<string, string>();
  for (const error of schemaErrors ?? []) {
    const missing = error.keyword === 'required' ? error.params['missingProperty'] : undefined;
    const field = typeof missing === 'string' ? missing : error.instancePath.split('/')[1];
    if (field === undefined || !FIELDS.includes(field as Field) || bad.has(field)) continue;
    bad.set(field, missing === undefined ? FIELD_RULES[field as Field] : 'is required');
  }
  const candidate = body as Partial<Record<Field, unknown>>;
  if (!bad.has('callback_url') && typeof candidate.callback_url === 'string') {
    const message = callbackUrlError(candidate.callback_url, checkCallbackUrl);
    if (message) bad.set('callback_url', message);
  }
  return FIELDS.filter((f) => bad.has(f)).map((field) => ({
    field,
    message: bad.get(field) ?? '',
  }));
}

function callbackUrlError(text: string, check: CallbackUrlCheck): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return FIELD_RULES.callback_url;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    return FIELD_RULES.callback_url;
  }
  return check(url);
}

export function isValidStartRequest(
  body: unknown,
  errors: FieldError[],
): body is StartSessionRequest {
  return errors.length === 0 && typeof body === 'object' && body !== null;
}
