import { request, type Dispatcher } from 'undici';
import type { Signer } from './signing.js';
import { retryAfterMs } from './schedule.js';
import { CENSOR } from '../lib/logger.js';

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
}

/** Only a snippet of the receiver's answer is kept; reading more would let a receiver make us
 * buffer arbitrary amounts. */
const RESPONSE_READ_CAP_BYTES = 4 * 1024;
const SNIPPET_LENGTH = 256;

const USER_AGENT = 'Chargegate-Webhooks/1';

/**
 * One webhook attempt. Never throws: every failure is an `AttemptResult`. Redirects are not
 * followed (undici's `request` does not follow them), so a 3xx is a failed attempt.
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
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timestamp = Math.floor(now() / 1000);
  try {
    const response = await request(options.url, {
      method: 'POST',
      dispatcher: options.dispatcher,
      signal: controller.signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'webhook-id': options.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': options.signer.sign(options.id, timestamp, options.body),
      },
      body: options.body,
    });
    const snippet = await readSnippet(response.body, options.conceal);
    const status = response.statusCode;
    const outcome: DeliveryOutcome =
      status >= 200 && status < 300 ? 'delivered' : status === 410 ? 'gone' : 'failed';
    const honoured = status === 429 || status === 503;
    return {
      outcome,
      statusCode: status,
      error: null,
      durationMs: elapsed(),
      retryAfterMs: honoured ? retryAfterMs(response.headers['retry-after'], now()) : null,
      responseSnippet: snippet,
    };
  } catch (error) {
    return {
      outcome: 'failed',
      statusCode: null,
      error: controller.signal.aborted ? 'CALLBACK_TIMEOUT' : errorCode(error),
      durationMs: elapsed(),
      retryAfterMs: null,
      responseSnippet: null,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Errors already carrying one of our codes (the SSRF guard's) keep it; others are network. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('CALLBACK_')) return code;
  return 'CALLBACK_UNREACHABLE';
}

async function readSnippet(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  conceal: string,
): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_READ_CAP_BYTES) {
        body.destroy();
        break;
      }
    }
  } catch {
    // A body cut short still leaves a useful snippet.
  }
  const text = Buffer.concat(chunks).subarray(0, RESPONSE_READ_CAP_BYTES).toString('utf8');
  const redacted = conceal === '' ? text : text.replaceAll(conceal, CENSOR);
  return redacted === '' ? null : redacted.slice(0, SNIPPET_LENGTH);
}
