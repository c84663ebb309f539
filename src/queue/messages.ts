import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { DECISIONS } from '../store/port.js';

/**
 * What travels through the queues. Messages carry the raw driver token because the callback
 * must echo it (docs/webhooks.md); it leaves the queue when the callback message is acked. `v` lets a
 * later release read messages queued by an earlier one during a rolling upgrade.
 */

/** The message version this release writes and reads. */
const VERSION = 1;

const Text = Type.String({ minLength: 1 });

const RequestMessage = Type.Object({
  v: Type.Literal(VERSION),
  request_id: Text,
  station_id: Text,
  driver_token: Text,
  callback_url: Text,
  accepted_at: Type.Number(),
  /** W3C trace context of the API's span, when tracing is on. */
  traceparent: Type.Optional(Type.String()),
});
export type RequestMessage = Static<typeof RequestMessage>;

const CallbackMessage = Type.Object({
  v: Type.Literal(VERSION),
  request_id: Text,
  station_id: Text,
  driver_token: Text,
  callback_url: Text,
  status: Type.Enum(DECISIONS),
  /** W3C trace context of the worker's span, when tracing is on. */
  traceparent: Type.Optional(Type.String()),
});
export type CallbackMessage = Static<typeof CallbackMessage>;

/** A message of any kind written by a later release, which only a worker of that one can read. */
const LaterMessage = Type.Object({ v: Type.Integer({ minimum: VERSION + 1 }) });

const isRequest = Compile(RequestMessage);
const isCallback = Compile(CallbackMessage);
const isLater = Compile(LaterMessage);

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
  return unfit(payload, 'request', (value) => isRequest.Check(value));
}

/** `null` when the payload is a callback message of this release's shape. */
export function unfitCallback(payload: unknown): Unfit | null {
  return unfit(payload, 'callback', (value) => isCallback.Check(value));
}

function unfit(payload: unknown, kind: string, fits: (value: unknown) => boolean): Unfit | null {
  if (fits(payload)) return null;
  if (isLater.Check(payload)) {
    return { reason: `${kind} message version ${payload.v} is of a later release`, later: true };
  }
  return { reason: `payload is not a ${kind} message`, later: false };
}
