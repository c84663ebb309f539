/**
 * The authorization service contract (docs/authorization.md), shared by the worker's client and the
 * reference service so that both sides speak exactly the same language.
 *
 * `POST {AUTH_SERVICE_URL}` with `{"station_id","driver_token"}` and an `x-request-id` header
 * answers `200 {"status":"allowed|not_allowed|invalid","reason":"…"}`.
 */

/** What the ACL may answer. `unknown` is never an answer: it is Chargegate's own verdict when
 * there is no usable answer. */
export type AclStatus = 'allowed' | 'not_allowed' | 'invalid';

export const ACL_STATUSES: readonly AclStatus[] = ['allowed', 'not_allowed', 'invalid'];

export interface AuthorizeRequestBody {
  station_id: string;
  driver_token: string;
}

export interface AuthorizeResponseBody {
  status: AclStatus;
  reason: string;
}

/** Reasons the reference service gives. Other services may give others; all are persisted. */
export const ACL_REASONS = {
  allowed: 'active',
  blocked: 'blocked',
  expired: 'expired',
  notAtThisStation: 'not_at_this_station',
  unknownToken: 'unknown_token',
} as const;

/** Path of the reference service's authorize endpoint. */
export const AUTHORIZE_PATH = '/api/v1/authorize';
