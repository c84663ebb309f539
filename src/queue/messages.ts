import type { Decision } from '../store/port.js';

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
