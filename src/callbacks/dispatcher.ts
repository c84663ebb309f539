import type { FastifyBaseLogger } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Queue, ReadableDelivery } from '../queue/port.js';
import { unfitCallback, type CallbackMessage } from '../queue/messages.js';
import {
  deadLettered,
  TERMINAL_CALLBACK_STATES,
  type DecisionStore,
  type SessionRecord,
} from '../store/port.js';
import { LEASE_MARGIN_MS, startConsumer, type Consumer } from '../queue/consumer.js';
import { attemptDelivery, type AttemptResult } from './delivery.js';
import { withJitter } from './schedule.js';
import { HostLimiter, hostKey } from './host-limiter.js';
import type { Signer } from '../contract/signing.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { contextFrom, inSpan, SpanKind, SpanStatusCode } from '../lib/tracing.js';

/** A callback to a host at its limit first waits this long for a slot there: enough for a
 * healthy receiver to finish a few attempts, short enough that a hanging one holds a delivery
 * slot only briefly before its callbacks are deferred. */
const BUSY_HOST_WAIT_MS = 250;

/** A deferred callback comes back after at least this long, so a saturated host's backlog is
 * not cycled through the queue faster than the host can take it. */
const BUSY_HOST_MIN_DEFER_MS = 1_000;

export interface DispatcherOptions {
  queue: Queue;
  store: DecisionStore;
  /** Signs callbacks of requests made without an API client. */
  signer: Signer;
  /** The signer of an API client's callbacks (its own secrets); null when it no longer exists. */
  signerFor?: (clientId: string) => Promise<Signer | null>;
  http: Dispatcher;
  logger: FastifyBaseLogger;
  timeoutMs: number;
  retryScheduleMs: readonly number[];
  concurrency: number;
  maxPerHost: number;
  /** Traces; a no-op tracer when absent. */
  tracer?: Tracer;
  /** Told of every attempt's outcome, and of every deferral (metrics). */
  onAttempt?: (outcome: 'delivered' | 'gone' | 'failed' | 'deferred') => void;
  now?: () => number;
  random?: () => number;
}

function clientGone(): AttemptResult {
  return {
    outcome: 'failed',
    statusCode: null,
    error: 'CALLBACK_CLIENT_GONE',
    durationMs: 0,
    retryAfterMs: null,
    responseSnippet: null,
  };
}

/** The exact webhook body (docs/webhooks.md): these three fields, in this order, nothing else. */
export function callbackBody(message: CallbackMessage): string {
  return JSON.stringify({
    station_id: message.station_id,
    driver_token: message.driver_token,
    status: message.status,
  });
}

/**
 * Delivers queued callbacks. Success, `410` and an exhausted schedule end a callback (ack or
 * dead letter, which is also when the raw token leaves the queue); anything else schedules the
 * next attempt. The attempt and the new state are persisted before the queue moves on, so the
 * `GET` never shows less than what happened.
 */
export function startDispatcher(options: DispatcherOptions): Consumer {
  const { queue, store, logger, retryScheduleMs } = options;
  const now = options.now ?? Date.now;
  const tracer = options.tracer ?? trace.getTracer('chargegate');
  const hosts = new HostLimiter(
    options.maxPerHost,
    { minDeferMs: BUSY_HOST_MIN_DEFER_MS, maxDeferMs: options.timeoutMs },
    options.concurrency,
  );

  async function handle(delivery: ReadableDelivery<CallbackMessage>): Promise<void> {
    const session = await store.getSession(delivery.payload.request_id);
    if (!session || TERMINAL_CALLBACK_STATES.includes(session.callback.state)) {
      // A duplicate message for a finished callback: nothing to send, so no host slot either.
      // (A `dead_lettered` state with a message in the topic means an operator replayed it:
      // that one is sent.) Without a session, it was deleted (retention) under a late message.
      if (!session) {
        logger.warn({ request_id: delivery.key }, 'callback dropped: its session no longer exists');
      }
      await queue.ack('callbacks', delivery);
      return;
    }
    const signer =
      session.clientId === null
        ? options.signer
        : ((await options.signerFor?.(session.clientId)) ?? null);
    if (signer === null) {
      // Its client was deleted: nothing may sign for it, so nothing is sent; the attempt
      // fails like any other, and the callback ends as a dead letter if the client stays gone.
      await record(delivery, session, now(), clientGone());
      return;
    }
    const host = hostKey(delivery.payload.callback_url);
    const slot = await hosts.acquire(host, BUSY_HOST_WAIT_MS, () => performance.now());
    if (slot === null) {
      options.onAttempt?.('deferred');
      const wait = withJitter(hosts.deferMs(host, performance.now()), options.random);
      await queue.release('callbacks', delivery, wait);
      return;
    }
    const startedAt = now();
    let result: AttemptResult | undefined;
    try {
      result = await exchange(delivery.payload, session, signer);
    } finally {
      // The slot bounds connections to the host: it is given back as soon as the HTTP exchange
      // ends, not after the writes that record it.
      hosts.release(host, slot, performance.now(), result?.error === 'CALLBACK_TIMEOUT');
    }
    await record(delivery, session, startedAt, result);
  }

  /** One signed HTTP attempt, in its own span. */
  function exchange(
    message: CallbackMessage,
    session: SessionRecord,
    signer: Signer,
  ): Promise<AttemptResult> {
    return inSpan(
      tracer,
      'callback attempt',
      {
        parent: contextFrom(message.traceparent),
        kind: SpanKind.CLIENT,
        attributes: {
          'chargegate.request_id': message.request_id,
          'chargegate.attempt': session.callback.attempts + 1,
        },
      },
      async (span) => {
        const attempted = await attemptDelivery({
          url: message.callback_url,
          id: message.request_id,
          body: callbackBody(message),
          signer,
          timeoutMs: options.timeoutMs,
          dispatcher: options.http,
          conceal: message.driver_token,
          now,
        });
        span.setAttribute('chargegate.outcome', attempted.outcome);
        if (attempted.statusCode !== null)
          span.setAttribute('http.response.status_code', attempted.statusCode);
        if (attempted.outcome === 'failed') {
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: attempted.error ?? `http_${attempted.statusCode}`,
          });
        }
        return attempted;
      },
    );
  }

  /** Persists the attempt and moves the message on: acked, retried later, or dead-lettered. */
  async function record(
    delivery: ReadableDelivery<CallbackMessage>,
    session: SessionRecord,
    startedAt: number,
    result: AttemptResult,
  ): Promise<void> {
    const message = delivery.payload;
    options.onAttempt?.(result.outcome);
    const attempt = {
      attempt: session.callback.attempts + 1,
      startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      error: result.error,
      responseSnippet: result.responseSnippet,
    };
    // Plain fields, not a child logger: a child per callback costs more than the line itself.
    const fields = {
      request_id: message.request_id,
      attempt: attempt.attempt,
      status_code: result.statusCode,
      error: result.error,
      ...(result.cause === undefined ? {} : { cause: result.cause }),
      duration_ms: result.durationMs,
    };
    if (result.outcome !== 'failed') {
      await store.recordCallbackAttempt(message.request_id, attempt, {
        state: result.outcome,
        at: now(),
      });
      await queue.ack('callbacks', delivery);
      logger.info(
        fields,
        result.outcome === 'delivered'
          ? 'callback delivered'
          : 'callback receiver answered 410: not retrying',
      );
      return;
    }
    await scheduleNext(delivery, result, attempt, fields);
  }

  async function scheduleNext(
    delivery: ReadableDelivery<CallbackMessage>,
    result: AttemptResult,
    attempt: Parameters<DecisionStore['recordCallbackAttempt']>[1],
    fields: Record<string, unknown>,
  ): Promise<void> {
    const id = delivery.payload.request_id;
    const scheduled = retryScheduleMs[delivery.attempt];
    if (scheduled === undefined) {
      await store.recordCallbackAttempt(id, attempt, deadLettered(now()));
      await queue.deadLetter('callbacks', delivery, result.error ?? `http_${result.statusCode}`);
      logger.warn(
        { ...fields, code: 'CALLBACK_DEAD_LETTERED' },
        'callback retry schedule exhausted: dead-lettered',
      );
      return;
    }
    const wait = result.retryAfterMs ?? withJitter(scheduled, options.random);
    await store.recordCallbackAttempt(id, attempt, {
      state: 'retrying',
      at: now(),
      nextAttemptAt: now() + wait,
    });
    await queue.retry('callbacks', delivery, wait);
    logger.info({ ...fields, retry_in_ms: wait }, 'callback attempt failed; retry scheduled');
  }

  return startConsumer<CallbackMessage>({
    queue,
    topic: 'callbacks',
    concurrency: options.concurrency,
    leaseMs: options.timeoutMs + LEASE_MARGIN_MS,
    handle,
    unfit: unfitCallback,
    // The GET shows what became of the callback (its key is the request id).
    beforeDeadLetter: async (delivery) => {
      await store.setCallbackState(delivery.key, deadLettered(now()));
      return null;
    },
    logger,
  });
}
