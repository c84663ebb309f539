import { DECISIONS, type Decision } from '../store/port.js';

/**
 * What travels through the queues. Messages carry the raw driver token because the callback
 * must echo it (docs/webhooks.md); it leaves the queue when the callback message is acked. `v` lets a
 * later release read messages queued by an earlier one during a rolling upgrade.
 */
export interface RequestMessage {
  v: 1;
  request_id: string;
  station_id: string;
  driver_token: string;
  callback_url: string;
  accepted_at: number;
  /** W3C trace context of the API's span, when tracing is on. */
  traceparent?: string;
}

export interface CallbackMessage {
  v: 1;
  request_id: string;
  station_id: string;
  driver_token: string;
  callback_url: string;
  status: Decision;
  /** W3C trace context of the worker's span, when tracing is on. */
  traceparent?: string;
}

/**
 * Why a queued payload cannot be handled by this release. `later`: it is a message of a later
 * release (a rolling upgrade in progress), which a worker of that release will handle, so it is
 * put back for one. Otherwise it would fail every redelivery too, so it is dead-lettered with
 * `reason` (which never quotes the payload) instead of being retried forever.
 */
export interface Unfit {
  reason: string;
  later: boolean;
}

/** `null` when the payload is a request message of this release's shape. */
export function unfitRequest(payload: unknown): Unfit | null {
  return unfit(payload, 'request', (m) => typeof m.accepted_at === 'number');
}

/** `null` when the payload is a callback message of this release's shape. */
export function unfitCallback(payload: unknown): Unfit | null {
  return unfit(payload, 'callback', (m) => DECISIONS.includes(m.status as Decision));
}

/** The message version this release writes and reads. */
const VERSION = 1;

const TEXT_FIELDS = ['request_id', 'station_id', 'driver_token', 'callback_url'] as const;

function unfit(
  payload: unknown,
  kind: string,
  rest: (message: Record<string, unknown>) => boolean,
): Unfit | null {
  const notOne = { reason: `payload is not a ${kind} message`, later: false };
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return notOne;
  const message = payload as Record<string, unknown>;
  if (typeof message.v === 'number' && Number.isInteger(message.v) && message.v > VERSION) {
    return { reason: `${kind} message version ${message.v} is of a later release`, later: true };
  }
  const shaped =
    message.v === VERSION &&
    TEXT_FIELDS.every((field) => typeof message[field] === 'string' && message[field] !== '') &&
    (message.traceparent === undefined || typeof message.traceparent === 'string') &&
    rest(message);
  return shaped ? null : notOne;
}
