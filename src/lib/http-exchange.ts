import type { Dispatcher } from 'undici';

/**
 * One HTTP request and its answer through undici's `dispatch`, for the two calls the worker
 * makes per request (the authorization check and the callback). undici's `request()` wraps
 * every call in a body stream, an abort signal and an async iterator; for an answer of a few
 * bytes those cost more than the exchange itself (docs/performance.md, "Measured design
 * choices").
 *
 * Never rejects: a timeout, a network error and a body cut short are results. It settles at
 * the timeout, except for a request still waiting for a connection in undici's queue: that one
 * is never sent, and settles (timed out) when it leaves the queue, as with `request()` and an
 * abort signal. Give the dispatcher a connect timeout no longer than the exchange's.
 */

export interface ExchangeRequest {
  /** `scheme://host:port`; see `splitUrl`. */
  origin: string;
  /** Path and query. */
  path: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  /** For the whole exchange, the answer's body included. */
  timeoutMs: number;
  /** The answer's body is kept up to this many bytes; past them the exchange is cut short
   * (its connection closed) rather than read on. */
  maxBodyBytes: number;
}

export type ExchangeResult =
  | {
      answered: true;
      statusCode: number;
      headers: Record<string, string | string[] | undefined>;
      /** What was read of the body, at most `maxBodyBytes`. */
      body: Buffer;
      /** Why the body may be incomplete: longer than `maxBodyBytes`, the timeout, or an error
       * (`error`) after the headers. `null`: the whole body. */
      cut: null | 'too_long' | 'timeout' | 'error';
      error?: unknown;
    }
  /** No answer: the timeout, or the error (refused, reset, a connect-time guard…). */
  | { answered: false; timedOut: boolean; error: unknown };

/** The parts `dispatch` wants, as `request(url)` would derive them; throws for a URL that is
 * not http(s). */
export function splitUrl(url: string): { origin: string; path: string } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`Not an http(s) URL (${parsed.protocol})`);
  }
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
}

export function exchange(
  dispatcher: Dispatcher,
  request: ExchangeRequest,
): Promise<ExchangeResult> {
  return new Promise((resolve) => {
    let controller: Dispatcher.DispatchController | null = null;
    let statusCode = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let settled = false;

    const settle = (result: ExchangeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const answer = (cut: null | 'too_long' | 'timeout' | 'error', error?: unknown) =>
      settle({
        answered: true,
        statusCode,
        headers,
        body: chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size),
        cut,
        ...(error === undefined ? {} : { error }),
      });
    const fail = (error: unknown) => {
      // A status means the headers came: the answer has begun.
      if (statusCode !== 0) answer(timedOut ? 'timeout' : 'error', error);
      else settle({ answered: false, timedOut, error });
    };

    const timeoutError = () => new Error(`no complete answer within ${request.timeoutMs} ms`);
    const timer = setTimeout(() => {
      timedOut = true;
      // Still queued for a connection (no controller yet), the request is aborted unsent when
      // it leaves the queue, and settles then: until undici lets go of it, whoever bounds the
      // requests in flight (the authorization permits, a host's slots) must still count it.
      if (controller === null) return;
      const error = timeoutError();
      controller.abort(error);
      fail(error);
    }, request.timeoutMs);

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(ctl) {
        controller = ctl;
        if (!timedOut) return;
        const error = timeoutError();
        ctl.abort(error);
        fail(error);
      },
      onResponseStart(_ctl, code, responseHeaders) {
        // An interim answer (103 Early Hints) is not the answer.
        if (code < 200) return;
        statusCode = code;
        headers = responseHeaders;
      },
      onResponseData(ctl, chunk) {
        const room = request.maxBodyBytes - size;
        if (chunk.length > room) {
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size += room;
          answer('too_long');
          ctl.abort(new Error(`answer longer than ${request.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      },
      onResponseEnd() {
        answer(null);
      },
      onResponseError(_ctl, error) {
        fail(error);
      },
    };

    try {
      dispatcher.dispatch(
        {
          origin: request.origin,
          path: request.path,
          method: request.method,
          headers: request.headers,
          body: request.body,
        },
        handler,
      );
    } catch (error) {
      fail(error);
    }
  });
}
