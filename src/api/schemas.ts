import { Type, type Static } from 'typebox';
import {
  CALLBACK_URL_MAX_LENGTH,
  DriverToken,
  FIELD_RULES,
  StationId,
} from '../contract/fields.js';

/**
 * The public API's schemas (docs/architecture.md: "The public API", "The callback contract"). The same objects validate requests (Fastify's
 * Ajv) and generate the OpenAPI document, so the document cannot drift from the behaviour.
 */

export const CallbackUrl = Type.String({
  maxLength: CALLBACK_URL_MAX_LENGTH,
  pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$',
  format: 'uri',
  description: `Where the decision is POSTed: ${FIELD_RULES.callback_url}.`,
  examples: ['https://app.example.com/hooks/charging'],
});

export const StartSessionRequest = Type.Object(
  { station_id: StationId, driver_token: DriverToken, callback_url: CallbackUrl },
  { $id: 'StartSessionRequest', description: 'A request to start a charging session.' },
);
export type StartSessionRequest = Static<typeof StartSessionRequest>;

export const ACCEPTED_MESSAGE =
  'Request is being processed asynchronously. The result will be sent to the provided callback URL.';

export const Accepted = Type.Object(
  {
    status: Type.Literal('accepted'),
    message: Type.Literal(ACCEPTED_MESSAGE),
    request_id: Type.String({ format: 'uuid' }),
  },
  { $id: 'Accepted' },
);

export const DecisionValue = Type.Union(
  [
    Type.Literal('pending'),
    Type.Literal('allowed'),
    Type.Literal('not_allowed'),
    Type.Literal('unknown'),
    Type.Literal('invalid'),
  ],
  { description: '`pending` until the authorization service has been asked.' },
);

const Timestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const CallbackAttemptView = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  started_at: Type.String({ format: 'date-time' }),
  duration_ms: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Error code when no answer.' }),
  response_snippet: Type.Union([Type.String(), Type.Null()]),
});

export const SessionView = Type.Object(
  {
    request_id: Type.String({ format: 'uuid' }),
    station_id: Type.String({ format: 'uuid' }),
    driver_token_hash_prefix: Type.String({
      description: 'First characters of the keyed hash of the driver token, to correlate logs.',
    }),
    decision: DecisionValue,
    reason: Type.Union([Type.String(), Type.Null()], {
      description: 'Raw reason: blocked, expired, not_at_this_station, timeout, http_503, …',
    }),
    authorization_latency_ms: Type.Union([Type.Integer(), Type.Null()]),
    accepted_at: Type.String({ format: 'date-time' }),
    decided_at: Timestamp,
    decision_source: Type.Union(
      [
        Type.Literal('service'),
        Type.Literal('cache'),
        Type.Literal('offline_last_known'),
        Type.Null(),
      ],
      {
        description:
          'Where the decision came from: the authorization service (unknown included), the decision cache (AUTH_CACHE_TTL), or the last known decision while the service was unreachable (AUTH_OFFLINE_POLICY=last_known). Null while pending.',
      },
    ),
    decided_by: Type.Union(
      [Type.Literal('station_catalog'), Type.Literal('authorization_service'), Type.Null()],
      {
        description:
          "Which rule decided: the station catalog's (reasons station_out_of_order, reserved, unknown_station; docs/stations.md) or the authorization service (its answer, the cache, the offline policy, or unknown when it failed). Null while pending.",
      },
    ),
    authorization_reference: Type.Union([Type.String(), Type.Null()], {
      description:
        "OCPI: the eMSP's reference for this authorization, to carry into the session and its CDR.",
    }),
    allowed_evses: Type.Union([Type.Array(Type.String()), Type.Null()], {
      description:
        'OCPI: the EVSEs of the station the driver may charge at, when the eMSP names them.',
    }),
    display_text: Type.Union(
      [Type.Object({ language: Type.String(), text: Type.String() }), Type.Null()],
      { description: 'OCPI: a text for the driver that the eMSP gave with its decision.' },
    ),
    callback: Type.Object({
      url: Type.String(),
      state: Type.Union([
        Type.Literal('pending'),
        Type.Literal('retrying'),
        Type.Literal('delivered'),
        Type.Literal('gone'),
        Type.Literal('dead_lettered'),
      ]),
      attempts: Type.Integer({ minimum: 0 }),
      last_attempt_at: Timestamp,
      delivered_at: Timestamp,
      next_attempt_at: Timestamp,
      history: Type.Array(CallbackAttemptView),
    }),
  },
  { $id: 'Session', description: 'A charging session request, its decision and its callback.' },
);

export const SessionParams = Type.Object({
  request_id: Type.String({ description: 'The request_id returned by the POST.' }),
});

/** The webhook body (docs/architecture.md, "The callback contract"): exactly these fields, nothing else. */
export const CallbackPayload = Type.Object(
  {
    station_id: StationId,
    driver_token: DriverToken,
    status: Type.Union([
      Type.Literal('allowed'),
      Type.Literal('not_allowed'),
      Type.Literal('unknown'),
      Type.Literal('invalid'),
    ]),
  },
  { $id: 'CallbackPayload', additionalProperties: false },
);
export type CallbackPayload = Static<typeof CallbackPayload>;

export const IdempotencyKeyHeader = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'Optional, 1 to 255 printable ASCII characters. The same key with the same body returns the same request_id; with another body, 422.',
    }),
  ),
});

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;
