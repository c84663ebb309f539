import { isIPv6 } from 'node:net';

/**
 * An independent model of what `POST /api/v1/charging-sessions` must answer, written from the
 * public API's documentation (docs/api.md, docs/architecture.md) rather than from `src/api`, so property tests can check
 * that the server and the model agree on every generated input: valid ⇒ 202, invalid ⇒ 4xx.
 * Where the contract does not say which of two problems wins, the model lists both.
 */

export const BODY_LIMIT_BYTES = 16 * 1024;
export const CALLBACK_URL_MAX_LENGTH = 2048;
/** The test server's stand-in for the SSRF check refuses exactly this host. */
export const FORBIDDEN_HOST = 'forbidden.test';

export const FIELDS = ['station_id', 'driver_token', 'callback_url'] as const;
export type Field = (typeof FIELDS)[number];
export type StartFields = Record<Field, string>;

export interface ExpectedProblem {
  status: number;
  code: string;
  /** The bad fields a `REQUEST_INVALID` problem must name, in order. */
  fields?: string[];
}

export type Expected =
  | { kind: 'accept'; fields: StartFields; key?: string; replayOf?: string }
  /** `any`: the contract only promises some 4xx problem. */
  | { kind: 'reject'; problems: ExpectedProblem[] | 'any' };

const HEX = /^[0-9a-fA-F]+$/;
/** "UUID in canonical 8-4-4-4-12 hex form". */
export function isCanonicalUuid(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const groups = value.split('-');
  const lengths = [8, 4, 4, 4, 12];
  return groups.length === 5 && groups.every((g, i) => g.length === lengths[i] && HEX.test(g));
}

export const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
/** "20 to 80 characters of A-Z a-z 0-9 - . _ ~". */
export function isDriverToken(value: unknown): boolean {
  if (typeof value !== 'string' || value.length < 20 || value.length > 80) return false;
  return [...value].every((c) => TOKEN_ALPHABET.includes(c));
}

// RFC 3986 pieces, named as in its ABNF. Only the `scheme "://" authority …` form is an
// absolute http(s) URL with a host, which is what a callback needs.
const UNRESERVED = 'A-Za-z0-9\\-._~';
const SUB_DELIMS = "!$&'()*+,;=";
const PCT_ENCODED = '%[0-9A-Fa-f]{2}';
const PCHAR = `(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT_ENCODED})`;
const USERINFO = `(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT_ENCODED})*`;
const REG_NAME = `(?:[${UNRESERVED}${SUB_DELIMS}]|${PCT_ENCODED})*`;
const RFC3986_HTTP_URL = new RegExp(
  `^[Hh][Tt][Tt][Pp][Ss]?://(?:${USERINFO}@)?(?:\\[([0-9A-Fa-f:.]*)\\]|${REG_NAME})(?::[0-9]*)?` +
    `(?:/${PCHAR}*)*(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?$`,
);

/**
 * "Absolute http or https URL of at most 2048 characters": RFC 3986 syntax with an authority,
 * a host the WHATWG URL parser (which the callback sender uses) accepts, and not the host the
 * test's SSRF stand-in forbids.
 */
export function isCallbackUrl(value: unknown): boolean {
  if (typeof value !== 'string' || [...value].length > CALLBACK_URL_MAX_LENGTH) return false;
  const match = RFC3986_HTTP_URL.exec(value);
  if (!match) return false;
  if (match[1] !== undefined && !isIPv6(match[1])) return false;
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.hostname !== FORBIDDEN_HOST
  );
}

const CHECKS: Record<Field, (value: unknown) => boolean> = {
  station_id: isCanonicalUuid,
  driver_token: isDriverToken,
  callback_url: isCallbackUrl,
};

/** "1 to 255 printable ASCII characters", as the server sees the header: HTTP strips OWS. */
export function isIdempotencyKey(headerValue: string): boolean {
  const key = headerValue.replace(/^[ \t]+|[ \t]+$/g, '');
  return key.length >= 1 && key.length <= 255 && /^[\x20-\x7e]+$/.test(key);
}

/** `application/json`, any case, any parameters (RFC 8259 defines none, so none matter). */
export function isJsonMediaType(contentType: string): boolean {
  return /^[ \t]*application\/json[ \t]*(?:;|$)/i.test(contentType);
}

/**
 * Keys JSON must not smuggle in: `__proto__` anywhere, and `constructor.prototype`, the shape
 * that pollutes through a merge. A plain `constructor` key is ordinary data.
 */
function hasForbiddenKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === '__proto__') return true;
      if (
        key === 'constructor' &&
        typeof value === 'object' &&
        value !== null &&
        Object.hasOwn(value, 'prototype')
      ) {
        return true;
      }
      stack.push(value);
    }
  }
  return false;
}

export type BodyVerdict =
  | { kind: 'too_large' }
  | { kind: 'malformed' }
  | { kind: 'invalid'; fields: string[] }
  | { kind: 'valid'; fields: StartFields };

/** JSON is UTF-8 (RFC 8259 §8.1); bad bytes decode to U+FFFD and a leading BOM may be ignored. */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: false });

export function judgeBody(body: Uint8Array): BodyVerdict {
  if (body.byteLength > BODY_LIMIT_BYTES) return { kind: 'too_large' };
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(body));
  } catch {
    return { kind: 'malformed' };
  }
  if (hasForbiddenKey(value)) return { kind: 'malformed' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalid', fields: ['body'] };
  }
  const candidate = value as Record<string, unknown>;
  const bad = FIELDS.filter((f) => !CHECKS[f](candidate[f]));
  if (bad.length > 0) return { kind: 'invalid', fields: bad };
  return { kind: 'valid', fields: candidate as StartFields };
}

/**
 * What the API has accepted under each Idempotency-Key, to predict replays and conflicts. A key
 * belongs to the callback URL's origin: the same key with another receiver is another key.
 */
export class IdempotencyLedger {
  readonly #byKey = new Map<string, { fingerprint: string; requestId: string }>();

  lookup(key: string, fields: StartFields): { replayOf?: string; conflict: boolean } {
    const seen = this.#byKey.get(scoped(key, fields));
    if (!seen) return { conflict: false };
    return seen.fingerprint === fingerprint(fields)
      ? { replayOf: seen.requestId, conflict: false }
      : { conflict: true };
  }

  record(key: string, fields: StartFields, requestId: string): void {
    const scope = scoped(key, fields);
    if (!this.#byKey.has(scope))
      this.#byKey.set(scope, { fingerprint: fingerprint(fields), requestId });
  }
}

const scoped = (key: string, f: StartFields) =>
  JSON.stringify([new URL(f.callback_url).origin, key]);

/** What makes two bodies "the same" for an Idempotency-Key: the station id in any letter case
 * (a UUID), the token and the callback URL exactly. */
const fingerprint = (f: StartFields) =>
  JSON.stringify([f.station_id.toLowerCase(), f.driver_token, f.callback_url]);

export interface StartRequest {
  contentType: string | undefined;
  body: Uint8Array | undefined;
  /** The Idempotency-Key header exactly as sent. */
  idempotencyKey: string | undefined;
}

export function expectedAnswer(request: StartRequest, ledger: IdempotencyLedger): Expected {
  const { contentType, body, idempotencyKey } = request;
  if (contentType === undefined || !isJsonMediaType(contentType)) {
    return { kind: 'reject', problems: 'any' };
  }
  const keyProblems: ExpectedProblem[] =
    idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)
      ? [{ status: 400, code: 'IDEMPOTENCY_KEY_INVALID' }]
      : [];
  if (body === undefined || body.byteLength === 0) {
    const problems = [
      { status: 400, code: 'REQUEST_MALFORMED_JSON' },
      { status: 415, code: 'REQUEST_UNSUPPORTED_MEDIA_TYPE' },
    ];
    return { kind: 'reject', problems: [...problems, ...keyProblems] };
  }
  const verdict = judgeBody(body);
  switch (verdict.kind) {
    case 'too_large':
      return {
        kind: 'reject',
        problems: [{ status: 413, code: 'REQUEST_TOO_LARGE' }, ...keyProblems],
      };
    case 'malformed':
      return {
        kind: 'reject',
        problems: [{ status: 400, code: 'REQUEST_MALFORMED_JSON' }, ...keyProblems],
      };
    case 'invalid':
      return {
        kind: 'reject',
        problems: [
          { status: 400, code: 'REQUEST_INVALID', fields: verdict.fields },
          ...keyProblems,
        ],
      };
  }
  if (keyProblems.length > 0) return { kind: 'reject', problems: keyProblems };
  if (idempotencyKey === undefined) return { kind: 'accept', fields: verdict.fields };
  const key = idempotencyKey.replace(/^[ \t]+|[ \t]+$/g, '');
  const seen = ledger.lookup(key, verdict.fields);
  if (seen.conflict) {
    return { kind: 'reject', problems: [{ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' }] };
  }
  return { kind: 'accept', fields: verdict.fields, key, replayOf: seen.replayOf };
}
