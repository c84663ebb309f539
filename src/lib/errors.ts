/**
 * Every error Chargegate raises or records carries a stable `code`. Codes appear in logs, in
 * persisted decision reasons and callback attempts, and in problem responses; operators and
 * alerts may match on them, so they never change meaning. docs/api.md lists them
 * (generated from this table by `npm run docs`).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'A configuration variable is missing or malformed; the process did not start.',
  REQUEST_INVALID: 'The request body failed validation; nothing was stored.',
  REQUEST_MALFORMED_JSON: 'The request body is not valid JSON; nothing was stored.',
  REQUEST_TOO_LARGE: 'The request body exceeds 16 KiB; nothing was stored.',
  REQUEST_UNSUPPORTED_MEDIA_TYPE: 'The request body is not application/json; nothing was stored.',
  IDEMPOTENCY_KEY_REUSED: 'The Idempotency-Key was already used with a different body.',
  IDEMPOTENCY_KEY_INVALID: 'The Idempotency-Key header is empty, too long or not printable ASCII.',
  BACKLOG_FULL: 'The backlog of undecided requests is at its bound; retry after Retry-After.',
  SESSION_NOT_FOUND: 'No charging session request has this id.',
  ROUTE_NOT_FOUND: 'No route has this method and path.',
  RATE_LIMITED: 'The client sent more requests than its rate limit; retry after Retry-After.',
  ADMIN_TOO_MANY_FAILURES:
    'Too many failed admin authentications from this address; retry after Retry-After.',
  STORE_UNAVAILABLE:
    'The decision store or queue failed or did not answer in time; the request was not accepted and will not be stored later.',
  INTERNAL_ERROR: 'An unexpected error; the details are in the log under the same request id.',
  CALLBACK_TIMEOUT: 'The callback receiver did not answer within CALLBACK_TIMEOUT_MS.',
  CALLBACK_UNREACHABLE:
    'The callback receiver could not be connected to, or its host name does not resolve to a public address.',
  CALLBACK_ADDRESS_FORBIDDEN:
    'The callback URL is an IP address that is loopback, private or otherwise non-public, or the connection reached such an address.',
  CALLBACK_CLIENT_GONE:
    "The request's API client was deleted: nothing may sign its callback, so none was sent.",
  CALLBACK_DEAD_LETTERED:
    'The callback retry schedule is exhausted; the callback is a dead letter.',
  CLIENT_UNAUTHORIZED:
    'The public API needs Authorization: Bearer <API key> of a client (clients are configured), and none or an unknown one was sent.',
  CLIENT_NOT_FOUND: 'No API client has this name.',
  CLIENT_EXISTS: 'An API client with this name exists already.',
  ADMIN_UNAUTHORIZED: 'An admin endpoint was called without the right bearer ADMIN_TOKEN.',
  HISTORY_UNAVAILABLE:
    'The store failed or did not answer the history query in time; the console keeps its last charts.',
  DEAD_LETTER_NOT_FOUND: 'No dead letter has this id (replayed or purged already).',
  DEAD_LETTER_UNREADABLE:
    'The dead letter holds a payload that is not valid JSON or not a callback message; a replay would only dead-letter it again. Purge it.',
  DEAD_LETTER_SESSION_GONE:
    "The dead letter's session was deleted (SESSION_RETENTION); its callback has nothing to be recorded against. Purge it.",
  STATION_NOT_FOUND: 'The station catalog has no station with this id.',
  RESERVATION_NOT_FOUND: 'No reservation has this id (or it was purged after it ended).',
  RESERVATION_FULL:
    'The window would book more charging points than the station has; nothing was stored.',
  STATION_OUT_OF_ORDER: 'The station is out of order: it cannot be reserved.',
  ACL_FILE_INVALID: 'The ACL file could not be read or does not match the documented format.',
  ACL_ENTRY_NOT_FOUND: 'No ACL entry has this id (or this token, for a lookup).',
  ACL_ENTRY_EXISTS: 'The ACL has an entry for this token already; update or delete that one.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}
