import type { Queue } from '../queue/port.js';
import type { RequestMessage } from '../queue/messages.js';
import { tooLate, type DecisionStore } from '../store/port.js';
import type { TokenHasher } from '../lib/token-hash.js';
import { AppError } from '../lib/errors.js';
import { storeCall } from './deadline.js';
import { uuidv7 } from '../lib/ids.js';
import type { StartSessionRequest } from './schemas.js';

export type IntakeResult =
  | { kind: 'accepted'; requestId: string; replayed: boolean }
  // The other request's id is never told: it belongs to whoever used the key first.
  | { kind: 'idempotency_conflict' }
  | { kind: 'backlog_full'; retryAfterSeconds: number };

export interface Intake {
  /**
   * `traceparent`: the API span's, carried in the queued message to continue the trace.
   * `clientId`: the API client making the request, when clients are configured: its keys are
   * its own, and the session is stored as its.
   */
  accept(
    body: StartSessionRequest,
    idempotencyKey: string | undefined,
    traceparent?: string,
    clientId?: string,
  ): Promise<IntakeResult>;
}

/** The backlog size is read at most this often: a COUNT per request would cost more than the
 * insert itself, and a bound overshot by a few hundred requests is harmless. */
const BACKLOG_REFRESH_MS = 250;

/** What a client told "backlog full" should wait: long enough for workers to drain a slice. */
const BACKLOG_RETRY_AFTER_SECONDS = 5;

/** The answer waits this much past the accept deadline for a write that ran just before it,
 * so that a request stored in time is not refused because its acknowledgement was slow. */
const ANSWER_MARGIN_MS = 250;

/**
 * Accepting a request: the message is published first and the session stored second, and the
 * `202` follows both. The stored session is the acknowledgement: a worker that receives a
 * message whose session does not exist (the process died between the two writes, so the
 * client never got a `202`) waits a grace period and then drops it. So a crash at any point
 * either loses a request that was never acknowledged, or nothing.
 *
 * Both writes must be done within `acceptTimeoutMs`, or the client gets `503`: the session is
 * stored only by a write that runs before that deadline (`acceptBy`, checked by the store
 * itself), so a request held up in a stalled queue or store is never stored, decided or called
 * back after its client was refused.
 *
 * Idempotency keys belong to a scope (the callback URL's origin), so that nobody can claim or
 * probe a key of requests called back elsewhere; they are stored as keyed hashes.
 */
export function createIntake(deps: {
  queue: Queue;
  store: DecisionStore;
  hasher: TokenHasher;
  maxBacklog: number;
  acceptTimeoutMs: number;
  onAccepted?: () => void;
  now?: () => number;
}): Intake {
  const { queue, store, hasher, maxBacklog, acceptTimeoutMs } = deps;
  const now = deps.now ?? Date.now;
  const backlog = {
    value: 0,
    readAt: Number.NEGATIVE_INFINITY,
    reading: null as Promise<void> | null,
  };

  async function backlogIsFull(): Promise<boolean> {
    if (now() - backlog.readAt > BACKLOG_REFRESH_MS && backlog.reading === null) {
      const reading = queue.depth('requests').then((depth) => {
        backlog.value = depth;
        backlog.readAt = now();
      });
      backlog.reading = reading.then(
        () => undefined,
        () => undefined, // a failed read keeps the last value; the publish will fail loudly
      );
      void backlog.reading.finally(() => {
        backlog.reading = null;
      });
      // Only the very first read blocks; later ones use the slightly stale value meanwhile.
      if (backlog.readAt === Number.NEGATIVE_INFINITY) await reading;
    }
    return backlog.value >= maxBacklog;
  }

  function requestHash(body: StartSessionRequest): string {
    // The station id as stored (lowercase): a UUID in other letter case is the same station.
    const station = body.station_id.toLowerCase();
    return hasher.hash(JSON.stringify([station, body.driver_token, body.callback_url]));
  }

  /** The answer to a request whose key another session holds: a replay, or a conflict. */
  function answerFor(
    existing: { requestId: string; requestHash: string | null },
    hash: string | undefined,
  ): IntakeResult {
    return existing.requestHash === hash
      ? { kind: 'accepted', requestId: existing.requestId, replayed: true }
      : { kind: 'idempotency_conflict' };
  }

  /** The key as stored: a keyed hash of the client's key within its scope (the API client, or
   * without clients the callback URL's origin). */
  function scopedKey(key: string, body: StartSessionRequest, clientId?: string): string {
    const scope = clientId === undefined ? new URL(body.callback_url).origin : `client:${clientId}`;
    return hasher.hash(JSON.stringify(['idempotency-key', scope, key]));
  }

  async function replay(key: string, hash: string): Promise<IntakeResult | null> {
    const existing = await store.findByIdempotencyKey(key);
    return existing ? answerFor(existing, hash) : null;
  }

  function accept(
    body: StartSessionRequest,
    clientKey: string | undefined,
    traceparent?: string,
    clientId?: string,
  ): Promise<IntakeResult> {
    const acceptBy = now() + acceptTimeoutMs;
    const key = clientKey === undefined ? undefined : scopedKey(clientKey, body, clientId);
    return storeCall(
      acceptBefore(acceptBy, body, key, traceparent, clientId),
      acceptTimeoutMs + ANSWER_MARGIN_MS,
    );
  }

  async function acceptBefore(
    acceptBy: number,
    body: StartSessionRequest,
    key: string | undefined,
    traceparent?: string,
    clientId?: string,
  ): Promise<IntakeResult> {
    const hash = key === undefined ? undefined : requestHash(body);
    try {
      if (key !== undefined && hash !== undefined) {
        const replayed = await replay(key, hash);
        if (replayed) return replayed;
      }
      if (await backlogIsFull()) {
        return { kind: 'backlog_full', retryAfterSeconds: BACKLOG_RETRY_AFTER_SECONDS };
      }
      const acceptedAt = now();
      const requestId = uuidv7(acceptedAt);
      const message: RequestMessage = {
        v: 1,
        request_id: requestId,
        station_id: body.station_id.toLowerCase(),
        driver_token: body.driver_token,
        callback_url: body.callback_url,
        accepted_at: acceptedAt,
        ...(traceparent === undefined ? {} : { traceparent }),
      };
      await queue.publish('requests', requestId, message, { partitionKey: message.station_id });
      // Too late already: the message is an orphan the worker drops; the client gets 503.
      if (now() > acceptBy) throw tooLate(requestId);
      const created = await store.createSession({
        requestId,
        stationId: message.station_id,
        tokenHash: hasher.hash(body.driver_token),
        callbackUrl: body.callback_url,
        acceptedAt,
        acceptBy,
        ...(clientId === undefined ? {} : { clientId }),
        startedAt: acceptBy - acceptTimeoutMs,
        ...(key === undefined ? {} : { idempotencyKey: key, requestHash: hash }),
      });
      backlog.value += 1;
      if (created.created) {
        deps.onAccepted?.();
        return { kind: 'accepted', requestId, replayed: false };
      }
      // Lost a race for the same key: the winner's id is the answer; our message is an orphan
      // that the worker drops after the grace period.
      return answerFor(created.existing, hash);
    } catch (error) {
      // A queue at its hard size limit is the same answer as a full backlog: push back.
      if (error instanceof AppError && error.code === 'BACKLOG_FULL') {
        return { kind: 'backlog_full', retryAfterSeconds: BACKLOG_RETRY_AFTER_SECONDS };
      }
      throw new AppError('STORE_UNAVAILABLE', undefined, { cause: error });
    }
  }

  return { accept };
}
