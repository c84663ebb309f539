import { Agent } from 'undici';
import { Semaphore } from '../lib/semaphore.js';
import type { CircuitBreaker } from '../lib/circuit-breaker.js';
import type { RateLimiter } from '../lib/rate-limit.js';
import { exchange, splitUrl } from '../lib/http-exchange.js';
import {
  chargegateProtocol,
  ocpiProtocol,
  unknown,
  type AuthorizationResult,
  type AuthorizeInput,
  type Protocol,
} from './protocols.js';
import type { OcpiClientSettings } from './ocpi.js';

export type { AuthorizationResult, AuthorizeInput } from './protocols.js';

export interface AuthorizationClient {
  authorize(input: AuthorizeInput): Promise<AuthorizationResult>;
  /** Calls currently in flight, for metrics and tests. */
  readonly inFlight: number;
  close(): Promise<void>;
}

/** An ACL answer is a few dozen bytes; anything past this is not an answer we trust. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * The worker's client for the authorization service (docs/authorization.md). Every failure mode becomes a
 * decision: nothing here throws for a bad or missing answer, it answers `unknown` with a reason.
 */
export function createAuthorizationClient(options: {
  url: string;
  /** Absent: Chargegate's own contract; with it, OCPI 2.2.1 (`url` is the Tokens endpoint). */
  ocpi?: OcpiClientSettings;
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
  const protocol: Protocol =
    options.ocpi === undefined
      ? chargegateProtocol(target.path)
      : ocpiProtocol(new URL(url).pathname, options.ocpi);

  async function call(input: AuthorizeInput): Promise<AuthorizationResult> {
    const question = protocol.ask(input);
    if (!('path' in question)) return question;
    const started = performance.now();
    const result = await exchange(dispatcher, {
      origin: target.origin,
      path: question.path,
      method: 'POST',
      headers: {
        ...question.headers,
        ...(input.traceparent === undefined ? {} : { traceparent: input.traceparent }),
      },
      body: question.body,
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
    const body = result.cut === 'too_long' ? null : result.body;
    return protocol.read({ statusCode: result.statusCode, body }, input, latencyMs);
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
