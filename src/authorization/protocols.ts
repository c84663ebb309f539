import type { AuthorizationDetails, Decision, DecisionSource } from '../store/port.js';
import {
  ACL_STATUSES,
  type AclStatus,
  type AuthorizeRequestBody,
} from '../contract/authorization.js';
import { CENSOR } from '../lib/logger.js';
import {
  ALLOWED_MAPPING,
  authorizeHeaders,
  authorizePath,
  detailsOf,
  isAllowedType,
  type OcpiClientSettings,
} from './ocpi.js';
import { MAX_TOKEN_UID_LENGTH, OCPI_STATUS } from '../contract/ocpi.js';

/**
 * The two languages the worker's client speaks to an authorization service
 * (`AUTH_PROTOCOL`, docs/authorization.md): how a question is put, and how an answer is read.
 * The transport around them (timeout, permits, rate limit, circuit breaker) is `client.ts`.
 */

export interface AuthorizationResult {
  decision: Decision;
  /** Raw reason, persisted next to the decision. */
  reason: string;
  /** Time spent on the HTTP call; null when no call was made. */
  latencyMs: number | null;
  /** Absent: `service`. */
  source?: DecisionSource;
  /** What an OCPI service returned beside its decision; absent: nothing. */
  details?: AuthorizationDetails;
}

export interface AuthorizeInput {
  requestId: string;
  stationId: string;
  driverToken: string;
  /** The token's keyed hash, which names it in the decision cache. */
  tokenHash?: string;
  /** After this instant (ms since epoch) the service is not asked: `deadline_exceeded`. */
  deadlineAt?: number;
  /** W3C trace context, sent as the `traceparent` header. */
  traceparent?: string;
}

/** One call: its path and query, headers and body. */
export interface Question {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Protocol {
  /** The call to make, or a result reached without one. */
  ask(input: AuthorizeInput): Question | AuthorizationResult;
  /** A complete answer (`body` null: longer than the client keeps) read as a result. */
  read(
    answer: { statusCode: number; body: Buffer | null },
    input: AuthorizeInput,
    latencyMs: number,
  ): AuthorizationResult;
}

export function unknown(reason: string, latencyMs: number | null): AuthorizationResult {
  return { decision: 'unknown', reason, latencyMs };
}

/** Chargegate's own contract (`contract.ts`): `{station_id, driver_token}` in, status out. */
export function chargegateProtocol(path: string): Protocol {
  return {
    ask(input) {
      const body: AuthorizeRequestBody = {
        station_id: input.stationId,
        driver_token: input.driverToken,
      };
      return {
        path,
        headers: { 'content-type': 'application/json', 'x-request-id': input.requestId },
        body: JSON.stringify(body),
      };
    },
    read({ statusCode, body }, input, latencyMs) {
      if (statusCode !== 200) return unknown(`http_${statusCode}`, latencyMs);
      if (body === null) return unknown('malformed_body', latencyMs);
      const parsed = parseObject(body);
      if (parsed === null) return unknown('malformed_body', latencyMs);
      const { status, reason } = parsed;
      if (typeof status !== 'string' || !ACL_STATUSES.includes(status as AclStatus)) {
        return unknown('unexpected_status', latencyMs);
      }
      return {
        decision: status as AclStatus,
        reason: cleanReason(reason, status, input.driverToken),
        latencyMs,
      };
    },
  };
}

/**
 * OCPI 2.2.1 real-time authorization against an eMSP's Tokens endpoint (`tokensPath`). HTTP 404
 * is an unknown token whatever its body; on HTTP 200 the `status_code` decides; anything else
 * is `unknown` with a reason that names it.
 */
export function ocpiProtocol(tokensPath: string, settings: OcpiClientSettings): Protocol {
  return {
    ask(input) {
      // No eMSP can have issued it, and asking would only earn a 2001 that counts as a failure
      // toward the circuit breaker: it is decided here, as the eMSP would for an unknown uid.
      if (input.driverToken.length > MAX_TOKEN_UID_LENGTH) {
        return { decision: 'invalid', reason: 'token_too_long', latencyMs: null };
      }
      return {
        path: authorizePath(tokensPath, input.driverToken, settings.tokenType),
        headers: authorizeHeaders(settings, input.requestId),
        body: JSON.stringify({ location_id: input.stationId }),
      };
    },
    read({ statusCode, body }, input, latencyMs) {
      if (statusCode === 404) return invalidToken(latencyMs);
      if (statusCode !== 200) return unknown(`http_${statusCode}`, latencyMs);
      if (body === null) return unknown('malformed_body', latencyMs);
      const parsed = parseObject(body);
      const code = parsed?.['status_code'];
      if (parsed === null || typeof code !== 'number' || !Number.isInteger(code)) {
        return unknown('malformed_body', latencyMs);
      }
      if (code === OCPI_STATUS.unknownToken) return invalidToken(latencyMs);
      if (code !== OCPI_STATUS.success) return unknown(`ocpi_status_${code}`, latencyMs);
      const data = parsed['data'];
      if (typeof data !== 'object' || data === null) return unknown('malformed_body', latencyMs);
      const info = data as Record<string, unknown>;
      const allowed = info['allowed'];
      if (!isAllowedType(allowed)) return unknown('unexpected_status', latencyMs);
      const clean = (text: string) => cleanText(text, input.driverToken);
      return { ...ALLOWED_MAPPING[allowed], latencyMs, details: detailsOf(info, clean) };
    },
  };
}

function invalidToken(latencyMs: number): AuthorizationResult {
  return { decision: 'invalid', reason: 'unknown_token', latencyMs };
}

function parseObject(body: Buffer): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Reasons are persisted and shown; an unbounded string from another service is not. */
const MAX_REASON_LENGTH = 200;

/**
 * Control characters: C0, DEL, C1, and the invisible format characters that reorder or hide
 * text (bidirectional overrides, isolates and marks, zero-width characters, the BOM), which
 * could make a reason read differently in a console, a log viewer or a terminal.
 */
const CONTROL_CHARACTERS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Text from a service is shown, logged, traced and stored: never with a token the service
 * echoed in it, nor with characters that change how the text around it reads. */
function cleanText(text: string, token: string): string {
  return text.replace(CONTROL_CHARACTERS, '').replaceAll(token, CENSOR).trim();
}

function cleanReason(reason: unknown, fallback: string, token: string): string {
  if (typeof reason !== 'string') return fallback;
  const clean = cleanText(reason, token).slice(0, MAX_REASON_LENGTH);
  return clean === '' ? fallback : clean;
}
