import type { FastifyBaseLogger } from 'fastify';
import type { Leased, Queue, ReadableDelivery } from '../queue/port.js';
import { unfitRequest, type CallbackMessage, type RequestMessage } from '../queue/messages.js';
import {
  deadLettered,
  type Decision,
  type DecisionStore,
  type SessionRecord,
} from '../store/port.js';
import type { AuthorizationClient } from '../authorization/client.js';
import type { AuthorizationResult } from '../authorization/protocols.js';
import { fingerprintOf } from '../lib/token-hash.js';
import { LEASE_MARGIN_MS, startConsumer, type Consumer } from '../queue/consumer.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { contextFrom, inSpan, SpanKind, SpanStatusCode, traceparentOf } from '../lib/tracing.js';
import { delay } from '../lib/time.js';
import type { StationStore } from '../stations/port.js';
import { catalogVerdict } from '../stations/rules.js';

/**
 * A message whose session is not stored yet may be racing the API's second write (see
 * `api/intake.ts`). It is retried for this long; after it, the API died between the writes,
 * the client never got a `202`, and the message is dropped.
 */
export const ORPHAN_GRACE_MS = 60_000;
const ORPHAN_RECHECK_MS = 1_000;

/**
 * A message this young without its session is almost always just ahead of the session's write
 * (the API commits the two one after the other, and a worker woken by the publish can read in
 * between): it is looked at again after a few ms, without counting an attempt, rather than
 * after the full recheck interval.
 */
const FRESH_MESSAGE_MS = 1_000;
const FRESH_RECHECK_MS = 20;

/**
 * Before a fresh message without its session is put back, its session is read again after
 * these pauses, the message still leased: a publish wakes a waiting worker at once, typically
 * a ms or two before the API's session write commits, and putting the message back would cost
 * a queue write and `FRESH_RECHECK_MS` of the driver's wait.
 */
const FRESH_REREADS_MS = [1, 2, 4, 8, 16];

/** When a message whose session is not stored (yet) is looked at again, and whether that
 * counts as an attempt (not while it is fresh); `null` once it is an orphan (older than the
 * grace period). */
function recheckOf(age: number): { inMs: number; counted: boolean } | null {
  if (age < FRESH_MESSAGE_MS) return { inMs: FRESH_RECHECK_MS, counted: false };
  return age < ORPHAN_GRACE_MS ? { inMs: ORPHAN_RECHECK_MS, counted: true } : null;
}

/**
 * Messages handled at once per authorization permit (AUTH_MAX_IN_FLIGHT). A message keeps its
 * slot through the writes around its call (the decision, then the hand-off of its callback:
 * a group commit each), which under load last about as long as the call itself; with one
 * message per permit the permits would sit idle meanwhile, and the bench shows the permits are what bounds
 * decisions (doubling AUTH_MAX_IN_FLIGHT took them from 2,921 to 3,403/s). With two, while one
 * message of a pair calls, the other writes. A waiting message waits for at most one call, so
 * the lease covers two.
 */
const MESSAGES_PER_PERMIT = 2;

/**
 * With a rate limit, a message also waits for the limiter (inside its permit): at most a
 * timeout's worth of calls (rate × timeout) are then in flight, so that this wait, like the
 * wait for a permit, stays within one timeout and the lease covers it.
 */
export function messagesInFlight(options: {
  maxInFlight: number;
  authTimeoutMs: number;
  rateLimitPerSec?: number | undefined;
}): number {
  const perPermits = options.maxInFlight * MESSAGES_PER_PERMIT;
  if (options.rateLimitPerSec === undefined) return perPermits;
  const perTimeout = Math.floor((options.rateLimitPerSec * options.authTimeoutMs) / 1000);
  return Math.max(1, Math.min(perPermits, perTimeout));
}

export interface RequestWorkerOptions {
  queue: Queue;
  store: DecisionStore;
  authorizer: AuthorizationClient;
  logger: FastifyBaseLogger;
  authTimeoutMs: number;
  /** A request accepted longer ago than this is decided `unknown` without asking. */
  requestDeadlineMs?: number | undefined;
  /** Traces; a no-op tracer when absent. */
  tracer?: Tracer;
  /** The authorizer's permits (calls in flight at most); messages handled at once are
   * `MESSAGES_PER_PERMIT` times this. */
  maxInFlight: number;
  /** The authorizer's rate limit, when there is one: it bounds messages in flight too. */
  rateLimitPerSec?: number | undefined;
  /** The station catalog: its rules decide some requests without the service (`stations/`). */
  stations?: StationStore | undefined;
  /** STATION_CATALOG_STRICT: a station the catalog does not know is `invalid`. */
  stationCatalogStrict?: boolean;
  now?: () => number;
}

/**
 * Takes accepted requests off the `requests` queue, obtains a decision, persists it and queues
 * the callback. Idempotent by request id: a redelivered message reuses the persisted decision
 * instead of asking the authorization service again.
 */
export function startRequestWorker(options: RequestWorkerOptions): Consumer {
  const { queue, store, authorizer, logger } = options;
  const now = options.now ?? Date.now;
  const tracer = options.tracer ?? trace.getTracer('chargegate');

  /** Asks for a decision inside the request's trace; returns the span's traceparent too. */
  async function authorize(message: RequestMessage, tokenHash: string) {
    return inSpan(
      tracer,
      'authorize',
      {
        parent: contextFrom(message.traceparent),
        kind: SpanKind.CLIENT,
        attributes: { 'chargegate.request_id': message.request_id },
      },
      async (span) => {
        const traceparent = traceparentOf(span);
        const result = await authorizer.authorize({
          requestId: message.request_id,
          stationId: message.station_id,
          driverToken: message.driver_token,
          tokenHash,
          ...(traceparent === undefined ? {} : { traceparent }),
          ...(options.requestDeadlineMs === undefined
            ? {}
            : { deadlineAt: message.accepted_at + options.requestDeadlineMs }),
        });
        span.setAttributes({
          'chargegate.decision': result.decision,
          'chargegate.reason': result.reason,
          'chargegate.decision_source': result.source ?? 'service',
        });
        if (result.decision === 'unknown')
          span.setStatus({ code: SpanStatusCode.ERROR, message: result.reason });
        return { result, traceparent };
      },
    );
  }

  /** The catalog's decision, when one of its rules decides without the service. */
  async function byCatalog(message: RequestMessage, session: SessionRecord) {
    if (options.stations === undefined) return null;
    const verdict = await catalogVerdict(
      options.stations,
      { stationId: message.station_id, tokenHash: session.tokenHash, at: now() },
      { strict: options.stationCatalogStrict === true },
    );
    if (verdict.kind === 'ask') return null;
    const result: AuthorizationResult = {
      decision: verdict.decision,
      reason: verdict.reason,
      latencyMs: null,
    };
    return { result, traceparent: message.traceparent };
  }

  /**
   * The store's `recordDecision`, and when its answer is lost (the connection failed after the
   * write may have committed) whether the store now holds this very decision: then it was
   * ours, and is logged as applied. A redelivery would find the session decided and log
   * nothing, leaving a persisted decision without its log line.
   */
  async function recordDecision(
    requestId: string,
    decision: Parameters<DecisionStore['recordDecision']>[1],
  ): Promise<boolean> {
    try {
      return await store.recordDecision(requestId, decision);
    } catch (error) {
      const stored = await store.getSession(requestId).catch(() => null);
      const ours =
        stored?.decision === decision.decision &&
        stored.reason === decision.reason &&
        stored.decidedAt === decision.decidedAt;
      if (ours) return true;
      throw error;
    }
  }

  async function decide(
    message: RequestMessage,
    session: SessionRecord,
  ): Promise<{ decision: Decision; traceparent?: string }> {
    const { result, traceparent } =
      (await byCatalog(message, session)) ?? (await authorize(message, session.tokenHash));
    const carry = traceparent === undefined ? {} : { traceparent };
    const source = result.source ?? 'service';
    const applied = await recordDecision(message.request_id, {
      decision: result.decision,
      reason: result.reason,
      authLatencyMs: result.latencyMs,
      decidedAt: now(),
      source,
      ...(result.details === undefined ? {} : { details: result.details }),
    });
    // Every start allowed offline must be findable: it is said at warn, beside its counter.
    const log =
      source === 'offline_last_known' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log(
      {
        request_id: message.request_id,
        // The stored hash's prefix: the same fingerprint, without a second HMAC per message.
        token: fingerprintOf(session.tokenHash),
        decision: result.decision,
        reason: result.reason,
        auth_latency_ms: result.latencyMs,
        decision_source: source,
        ...(result.details?.authorizationReference == null
          ? {}
          : { authorization_reference: result.details.authorizationReference }),
        applied,
      },
      'request decided',
    );
    if (applied) return { decision: result.decision, ...carry };
    // Another worker decided first (a redelivery raced us): its decision is the one persisted.
    const stored = await store.getSession(message.request_id);
    const decision = stored && stored.decision !== 'pending' ? stored.decision : result.decision;
    return { decision, ...carry };
  }

  /**
   * A request set aside (unreadable, or not a request message): nothing trustworthy is left to
   * decide it from, so no callback will be sent; the GET says so, and retention can purge the
   * session like any finished one. Its session may not be stored yet (the API stores it just
   * after publishing): the message waits for it as `handle` would, and is set aside without
   * one only once it is an orphan.
   */
  async function beforeDeadLetter(delivery: Leased): Promise<number | null> {
    if ((await store.getSession(delivery.key)) === null) {
      return recheckOf(now() - delivery.publishedAt)?.inMs ?? null;
    }
    await store.setCallbackState(delivery.key, deadLettered(now()));
    return null;
  }

  /** The message's session; for a fresh message, read again a few times while it is missing. */
  async function sessionOf(delivery: ReadableDelivery<RequestMessage>) {
    const id = delivery.payload.request_id;
    let session = await store.getSession(id);
    for (const ms of FRESH_REREADS_MS) {
      if (session !== null || now() - delivery.publishedAt >= FRESH_MESSAGE_MS) break;
      await delay(ms);
      session = await store.getSession(id);
    }
    return session;
  }

  async function handle(delivery: ReadableDelivery<RequestMessage>): Promise<void> {
    const message = delivery.payload;
    const session = await sessionOf(delivery);
    if (!session) {
      const recheck = recheckOf(now() - delivery.publishedAt);
      if (recheck !== null) {
        // A fresh one is only late (not counted as an attempt); an older one may be an orphan.
        await (recheck.counted
          ? queue.retry('requests', delivery, recheck.inMs)
          : queue.release('requests', delivery, recheck.inMs));
      } else {
        logger.warn(
          { request_id: message.request_id },
          'dropping a request that was never acknowledged',
        );
        await queue.ack('requests', delivery);
      }
      return;
    }
    const decided =
      session.decision === 'pending'
        ? await decide(message, session)
        : { decision: session.decision, traceparent: message.traceparent };
    const { decision } = decided;
    // Any other state means a callback message already exists (retrying, dead-lettered) or the
    // callback is finished; publishing again would start a second retry cycle.
    if (session.callback.state !== 'pending') {
      await queue.ack('requests', delivery);
      return;
    }
    const callback: CallbackMessage = {
      v: 1,
      request_id: message.request_id,
      station_id: message.station_id,
      driver_token: message.driver_token,
      callback_url: message.callback_url,
      status: decision,
      ...(decided.traceparent === undefined ? {} : { traceparent: decided.traceparent }),
    };
    // The request leaves the queue as its callback enters it, in one write; a lost lease means
    // another worker holds the request and hands it off instead.
    const handedOff = await queue.handOff('requests', delivery, {
      topic: 'callbacks',
      key: message.request_id,
      payload: callback,
      partitionKey: message.station_id,
    });
    if (!handedOff) {
      // Its lease ran out while it was handled: the worker now holding it hands it off.
      logger.warn({ request_id: message.request_id }, 'request lease lost before its hand-off');
    }
  }

  return startConsumer<RequestMessage>({
    queue,
    topic: 'requests',
    concurrency: messagesInFlight(options),
    // Its wait for a permit (one call at most) and its own call.
    leaseMs: options.authTimeoutMs * 2 + LEASE_MARGIN_MS,
    handle,
    unfit: unfitRequest,
    beforeDeadLetter,
    logger,
  });
}
