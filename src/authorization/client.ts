import { Agent } from 'undici';
import type { Decision } from '../store/port.js';
import { ACL_STATUSES, type AclStatus, type AuthorizeRequestBody } from './contract.js';
import { Semaphore } from '../lib/semaphore.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { RateLimiter } from './rate-limit.js';
import { CENSOR } from '../lib/logger.js';
import { exchange, splitUrl } from '../lib/http-exchange.js';

export interface AuthorizationResult {
  decision: Decision;
  /** Raw reason, persisted next to the decision. */
  reason: string;
  /** Time spent on the HTTP call; null when no call was made. */
  latencyMs: number | null;
}

export interface AuthorizeInput {
  requestId: string;
  stationId: string;
  driverToken: string;
  /** After this instant (ms since epoch) the service is not asked: `deadline_exceeded`. */
  deadlineAt?: number;
  /** W3C trace context, sent as the `traceparent` header. */
  traceparent?: string;
}

export interface AuthorizationClient {
  authorize(input: AuthorizeInput): Promise<AuthorizationResult>;
  /** Calls currently in flight, for metrics and tests. */
  readonly inFlight: number;
  close(): Promise<void>;
}

/** An ACL answer is a few dozen bytes; anything past this is not an answer we trust. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** Reasons are persisted and shown; an unbounded string from another service is not. */
const MAX_REASON_LENGTH = 200;

/**
 * The worker's client for the authorization service (docs/authorization.md). Every failure mode becomes a
 * decision: nothing here throws for a bad or missing answer, it answers `unknown` with a reason.
 */
export function createAuthorizationClient(options: {
  url: string;
  timeoutMs: number;
  maxInFlight: number;
  breaker: CircuitBreaker;
  rateLimiter?: RateLimiter;
  /** Told of every result (metrics). */
  observe?: (result: AuthorizationResult) => void;
  now?: () => number;
}): AuthorizationClient {
  const { url, timeoutMs, breaker, rateLimiter } = options;
  const now = options.now ?? Date.now;
  const dispatcher = new Agent({
    connections: options.maxInFlight,
    keepAliveTimeout: 30_000,
    // Our own deadline governs; undici's defaults would be longer and add up. A connection
    // that cannot be made within it holds a call (and its permit) no longer than it.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: timeoutMs },
  });
  const permits = new Semaphore(options.maxInFlight);

  const target = splitUrl(url);

  async function call(input: AuthorizeInput): Promise<AuthorizationResult> {
    const started = performance.now();
    const body: AuthorizeRequestBody = {
      station_id: input.stationId,
      driver_token: input.driverToken,
    };
    const result = await exchange(dispatcher, {
      ...target,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': input.requestId,
        ...(input.traceparent === undefined ? {} : { traceparent: input.traceparent }),
      },
      body: JSON.stringify(body),
      timeoutMs,
      maxBodyBytes: MAX_RESPONSE_BYTES,
    });
    const latencyMs = Math.round(performance.now() - started);
    if (!result.answered) {
      return unknown(result.timedOut ? 'timeout' : connectionReason(result.error), latencyMs);
    }
    // Cut short by the timeout or the network: no trustworthy answer either.
    if (result.cut === 'timeout') return unknown('timeout', latencyMs);
    if (result.cut === 'error') return unknown(connectionReason(result.error), latencyMs);
    if (result.statusCode !== 200) return unknown(`http_${result.statusCode}`, latencyMs);
    if (result.cut === 'too_long') return unknown('malformed_body', latencyMs);
    return interpret(result.body.toString('utf8'), latencyMs, input.driverToken);
  }

  /**
   * The order matters: a refusing circuit or a passed deadline answers before any waiting;
   * the permit bounds concurrency; the rate limit spaces calls; and both checks are made again
   * just before calling, because waiting for a permit or the limiter takes time.
   */
  async function guarded(input: AuthorizeInput): Promise<AuthorizationResult> {
    const late = () => input.deadlineAt !== undefined && now() > input.deadlineAt;
    if (late()) return unknown('deadline_exceeded', null);
    if (breaker.isRefusing()) return unknown('circuit_open', null);
    return permits.run(async () => {
      await rateLimiter?.acquire();
      if (late()) return unknown('deadline_exceeded', null);
      if (!breaker.tryEnter()) return unknown('circuit_open', null);
      const result = await call(input);
      if (result.decision === 'unknown') breaker.onFailure();
      else breaker.onSuccess();
      return result;
    });
  }

  return {
    async authorize(input) {
      const result = await guarded(input);
      options.observe?.(result);
      return result;
    },
    get inFlight() {
      return permits.inUse;
    },
    async close() {
      await rateLimiter?.close();
      await dispatcher.close();
    },
  };
}

function unknown(reason: string, latencyMs: number | null): AuthorizationResult {
  return { decision: 'unknown', reason, latencyMs };
}

function interpret(text: string, latencyMs: number, token: string): AuthorizationResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return unknown('malformed_body', latencyMs);
  }
  if (typeof parsed !== 'object' || parsed === null) return unknown('malformed_body', latencyMs);
  const { status, reason } = parsed as { status?: unknown; reason?: unknown };
  if (typeof status !== 'string' || !ACL_STATUSES.includes(status as AclStatus)) {
    return unknown('unexpected_status', latencyMs);
  }
  return { decision: status as AclStatus, reason: cleanReason(reason, status, token), latencyMs };
}

/**
 * Control characters: C0, DEL, C1, and the invisible format characters that reorder or hide
 * text (bidirectional overrides, isolates and marks, zero-width characters, the BOM), which
 * could make a reason read differently in a console, a log viewer or a terminal.
 */
const CONTROL_CHARACTERS =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** A reason is shown, logged, traced and stored: never with a token the service echoed in it,
 * nor with characters that change how the text around it reads. */
function cleanReason(reason: unknown, fallback: string, token: string): string {
  if (typeof reason !== 'string') return fallback;
  const clean = reason
    .replace(CONTROL_CHARACTERS, '')
    .replaceAll(token, CENSOR)
    .trim()
    .slice(0, MAX_REASON_LENGTH);
  return clean === '' ? fallback : clean;
}

function connectionReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection_refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection_reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns_error';
    default:
      return 'connection_error';
  }
}
