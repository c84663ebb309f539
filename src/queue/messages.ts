import { DECISIONS, type Decision } from '../store/port.js';

/**
 * What travels through the queues. Messages carry the raw driver token because the callback
 * must echo it (DESIGN §3); it leaves the queue when the callback message is acked. `v` lets a
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
 * Why a queued payload cannot be handled, or `null` when it is a message of this release's
 * shape. A message that fails here would fail every redelivery too: the consumers dead-letter
 * it with this reason (which never quotes the payload) instead of retrying it forever.
 */
export function malformedRequest(payload: unknown): string | null {
  return malformed(payload, 'request', (m) => typeof m.accepted_at === 'number');
}

export function malformedCallback(payload: unknown): string | null {
  return malformed(payload, 'callback', (m) => DECISIONS.includes(m.status as Decision));
}

const TEXT_FIELDS = ['request_id', 'station_id', 'driver_token', 'callback_url'] as const;

function malformed(
  payload: unknown,
  kind: string,
  rest: (message: Record<string, unknown>) => boolean,
): string | null {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return `payload is not a ${kind} message`;
  }
  const message = payload as Record<string, unknown>;
  if (typeof message.v === 'number' && message.v !== 1) {
    // A later release's message during a rolling upgrade: it can be replayed once every worker
    // runs that release.
    return `${kind} message version ${message.v} is not known to this release`;
  }
  const shaped =
    message.v === 1 &&
    TEXT_FIELDS.every((field) => typeof message[field] === 'string' && message[field] !== '') &&
    (message.traceparent === undefined || typeof message.traceparent === 'string') &&
    rest(message);
  return shaped ? null : `payload is not a ${kind} message`;
}
