import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { BAD_EVERY, BAD_KINDS, badRequest, type BadKind } from './bad-input.js';

/**
 * The load generator: a bounded number of POSTs, paced at a fixed rate, at most `concurrency`
 * in flight, to 127.0.0.1 only. Every request carries a fresh random driver token, so that a
 * callback can be matched to the request that caused it (request ids are the server's) and the
 * privacy scan can look for every token ever sent.
 */

/** How a POST ended, from the client's side only. */
export type Outcome =
  /** `202`: the request is acknowledged and must be decided and called back. */
  | 'acked'
  /** Any other status: nothing must have been stored (the checker flags all but `503`). */
  | 'rejected'
  /** No answer (reset, closed, timed out): it may or may not have been stored. */
  | 'indeterminate';

export interface RequestRecord {
  index: number;
  token: string;
  target: string;
  /** When the final attempt was sent (after any refused ones). */
  sentAt: number;
  /** When the first attempt was made. */
  firstSentAt: number;
  doneAt: number;
  outcome: Outcome;
  status?: number;
  code?: string;
  requestId?: string;
  /** The answer's media type, for refusals (a 503 must be a problem document). */
  contentType?: string;
  error?: string;
  /** Connection-refused attempts before this one was sent (never received: safe to resend). */
  refused: number;
  /** Set for bad input (see `bad-input.ts`): it must be refused with a 4xx. */
  bad?: BadKind;
}

export interface LoadOptions {
  /** API base URLs in rotation; asked before every attempt (processes come and go). */
  targets: () => string[];
  count: number;
  ratePerSecond: number;
  concurrency: number;
  callbackUrl: string;
  stations: string[];
  /** Gives up on a request after this long without an answer (indeterminate). */
  timeoutMs?: number;
  /** Stops sending after this long even if `count` is not reached. */
  maxDurationMs: number;
}

/** Token kinds, by the letter after `FLT-`: the stub ACL answers allowed, blocked or invalid. */
const KINDS = ['A', 'B', 'I'] as const;
/** A refused connection is retried after this, so a restarting process is not hammered. */
const REFUSED_BACKOFF_MS = 250;
const DEFAULT_TIMEOUT_MS = 15_000;

/** `FLT-<kind>-<24 random base64url characters>`: 30 characters of the allowed alphabet. */
export function newToken(kind: string): string {
  return `FLT-${kind}-${randomBytes(18).toString('base64url')}`;
}

/** Matches every token `newToken` makes, wherever it appears in a text. */
export const TOKEN_PATTERN = /FLT-[A-Z]-[A-Za-z0-9_-]{24}/g;

function isRefused(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNREFUSED';
}

export interface Load {
  records: RequestRecord[];
  done: Promise<void>;
  /** Sends `count` more POSTs to `target` at once, outside the pacing (for SIGTERM faults);
   * with `slowMs`, as slow clients whose bodies arrive in two halves `slowMs` apart. */
  burst(target: string, count: number, slowMs?: number): Promise<void>;
  /** Requests sent but not answered yet. */
  inFlight(): number;
  /** Sends nothing more from now on (requests in flight finish); `done` resolves after them. */
  stop(): void;
  /** Closes the connections, once `done` and every burst are settled. */
  close(): Promise<void>;
}

export function startLoad(options: LoadOptions): Load {
  const agent = new Agent({
    connections: options.concurrency,
    // Idle connections are kept for a minute, as a load balancer's pool would: a server that
    // waits for its clients to hang up before it can stop shows here.
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    bodyTimeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  const records: RequestRecord[] = [];
  const started = Date.now();
  const deadline = started + options.maxDurationMs;
  const intervalMs = 1_000 / options.ratePerSecond;
  let next = 0;
  let pending = 0;
  let turn = 0;
  let stopped = false;

  /** The body as one string, or (a slow client) half now and the rest after `slowMs`. */
  function bodyOf(text: string, slowMs: number | undefined): string | Readable {
    if (slowMs === undefined) return text;
    const stream = new Readable({ read() {} });
    stream.push(text.slice(0, text.length >> 1));
    setTimeout(() => {
      stream.push(text.slice(text.length >> 1));
      stream.push(null);
    }, slowMs);
    return stream;
  }

  async function send(index: number, only?: string, slowMs?: number): Promise<void> {
    const firstSentAt = Date.now();
    const bad =
      index % BAD_EVERY === BAD_EVERY - 1
        ? BAD_KINDS[Math.floor(index / BAD_EVERY) % BAD_KINDS.length]
        : undefined;
    const token = newToken(bad === undefined ? (KINDS[index % KINDS.length] ?? 'A') : 'X');
    const fields = {
      station_id: options.stations[index % options.stations.length] ?? '',
      driver_token: token,
      callback_url: options.callbackUrl,
    };
    const { body, contentType } =
      bad === undefined
        ? { body: JSON.stringify(fields), contentType: 'application/json' }
        : badRequest(bad, fields);
    let refused = 0;
    for (;;) {
      const targets = only === undefined ? options.targets() : [only];
      if (targets.length === 0) {
        // Every API is out of rotation (stopping): wait, unsent, until one is back.
        if (Date.now() >= deadline) return;
        await new Promise((resolve) => setTimeout(resolve, REFUSED_BACKOFF_MS));
        continue;
      }
      const target = targets[turn++ % targets.length] ?? '';
      const sentAt = Date.now();
      const base = {
        index,
        token,
        target,
        sentAt,
        firstSentAt,
        refused,
        ...(bad === undefined ? {} : { bad }),
      };
      pending += 1;
      try {
        const response = await request(`${target}/api/v1/charging-sessions`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': contentType, 'content-length': String(body.length) },
          body: bodyOf(body, slowMs),
        });
        const text = await response.body.text();
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // A non-JSON answer is recorded by its status; the checker flags it.
        }
        const status = response.statusCode;
        records.push({
          ...base,
          doneAt: Date.now(),
          status,
          ...(status === 202
            ? {}
            : { contentType: String(response.headers['content-type'] ?? '') }),
          outcome: status === 202 ? 'acked' : 'rejected',
          ...(typeof json['request_id'] === 'string' ? { requestId: json['request_id'] } : {}),
          ...(typeof json['code'] === 'string' ? { code: json['code'] } : {}),
        });
        return;
      } catch (error) {
        if (isRefused(error) && Date.now() < deadline) {
          // Refused: the request never reached a server, so sending it again is no duplicate.
          refused += 1;
          await new Promise((resolve) => setTimeout(resolve, REFUSED_BACKOFF_MS));
          continue;
        }
        records.push({
          ...base,
          doneAt: Date.now(),
          outcome: 'indeterminate',
          error: (error as { code?: string }).code ?? String(error),
        });
        return;
      } finally {
        pending -= 1;
      }
    }
  }

  async function lane(): Promise<void> {
    for (;;) {
      const index = next++;
      if (index >= options.count || stopped) return;
      const due = started + index * intervalMs;
      if (due > deadline) return;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (stopped) return;
      await send(index);
    }
  }

  const done = Promise.all(Array.from({ length: options.concurrency }, () => lane())).then(
    () => undefined,
  );
  let extra = options.count;
  async function burst(target: string, count: number, slowMs?: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, () => send(extra++, target, slowMs)));
  }

  return {
    records,
    done,
    burst,
    inFlight: () => pending,
    stop: () => (stopped = true),
    close: () => agent.close(),
  };
}
