import type { Dispatcher } from 'undici';
import type { Signer } from '../contract/signing.js';
import { retryAfterMs } from './schedule.js';
import { CENSOR } from '../lib/logger.js';
import { exchange, splitUrl } from '../lib/http-exchange.js';

export type DeliveryOutcome = 'delivered' | 'gone' | 'failed';

export interface AttemptResult {
  outcome: DeliveryOutcome;
  statusCode: number | null;
  /** Stable error code when there was no HTTP answer. */
  error: string | null;
  durationMs: number;
  /** The receiver's Retry-After on 429/503, clamped; null otherwise. */
  retryAfterMs: number | null;
  responseSnippet: string | null;
  /** For the log only, never stored or shown: what lies behind `error` (e.g. `private`). */
  cause?: string;
}

/** Only a snippet of the receiver's answer is kept; reading more would let a receiver make us
 * buffer arbitrary amounts. */
const RESPONSE_READ_CAP_BYTES = 4 * 1024;
const SNIPPET_LENGTH = 256;

const USER_AGENT = 'Chargegate-Webhooks/1';

/**
 * One webhook attempt. Never throws: every failure is an `AttemptResult`. Redirects are not
 * followed (undici's `dispatch` does not follow them), so a 3xx is a failed attempt.
 */
export async function attemptDelivery(options: {
  url: string;
  id: string;
  body: string;
  signer: Signer;
  timeoutMs: number;
  dispatcher: Dispatcher;
  /** Replaced by `[redacted]` in the snippet (the driver token, which a receiver may echo):
   * before the snippet is cut, so a token across the cut leaves no fragment either. */
  conceal: string;
  now?: () => number;
}): Promise<AttemptResult> {
  const now = options.now ?? Date.now;
  const started = performance.now();
  const timestamp = Math.floor(now() / 1000);
  let target: { origin: string; path: string };
  try {
    target = splitUrl(options.url);
  } catch (error) {
    return failed(error, 0);
  }
  const result = await exchange(options.dispatcher, {
    ...target,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'webhook-id': options.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': options.signer.sign(options.id, timestamp, options.body),
    },
    body: options.body,
    timeoutMs: options.timeoutMs,
    maxBodyBytes: RESPONSE_READ_CAP_BYTES,
  });
  const durationMs = Math.round(performance.now() - started);
  if (!result.answered) {
    return result.timedOut
      ? { ...failed(null, durationMs), error: 'CALLBACK_TIMEOUT' }
      : failed(result.error, durationMs);
  }
  // A body cut short (too long, the timeout, the network) still leaves a useful snippet: the
  // status decides the outcome.
  const status = result.statusCode;
  const outcome: DeliveryOutcome =
    status >= 200 && status < 300 ? 'delivered' : status === 410 ? 'gone' : 'failed';
  const honoured = status === 429 || status === 503;
  return {
    outcome,
    statusCode: status,
    error: null,
    durationMs,
    retryAfterMs: honoured ? retryAfterMs(result.headers['retry-after'], now()) : null,
    responseSnippet: snippetOf(result.body, options.conceal),
  };
}

function failed(error: unknown, durationMs: number): AttemptResult {
  const { code, reason } = (error ?? {}) as { code?: unknown; reason?: unknown };
  return {
    outcome: 'failed',
    statusCode: null,
    error: errorCode(error),
    durationMs,
    retryAfterMs: null,
    responseSnippet: null,
    ...(typeof code === 'string'
      ? { cause: typeof reason === 'string' ? `${code}:${reason}` : code }
      : {}),
  };
}

/**
 * Errors already carrying one of our codes (the SSRF guard's) keep it; others are network.
 * A name that resolved to a non-public address reads as one that does not resolve (ssrf.ts).
 */
function errorCode(error: unknown): string {
  const { code, phase } = (error ?? {}) as { code?: unknown; phase?: unknown };
  if (phase === 'lookup') return 'CALLBACK_UNREACHABLE';
  if (typeof code === 'string' && code.startsWith('CALLBACK_')) return code;
  return 'CALLBACK_UNREACHABLE';
}

function snippetOf(body: Buffer, conceal: string): string | null {
  const text = body.toString('utf8');
  const redacted = conceal === '' ? text : text.replaceAll(conceal, CENSOR);
  return redacted === '' ? null : redacted.slice(0, SNIPPET_LENGTH);
}
