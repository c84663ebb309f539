import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkedByRoute, literals, type TypeBoxFastify } from '../http/type-provider.js';
import { randomUUID } from 'node:crypto';
import { Type } from 'typebox';
import type { TokenHasher } from '../lib/token-hash.js';
import { isUuid } from '../lib/ids.js';
import type { StationStore } from '../stations/port.js';
import { RESERVATION_STATES, reservationView, type FieldError } from '../stations/manage.js';
import { identifyCaller, type CallerOptions } from './callers.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';
import { DRIVER_TOKEN_PATTERN, DriverToken, FIELD_RULES, StationId } from '../contract/fields.js';
import { Problem } from '../http/problem.js';
import { invalid, stationNotFound } from './stations.js';

export const RESERVATIONS_PATH = '/api/v1/reservations';

/** A window may start this long before now: the clocks of the app and this service differ. */
const START_SLACK_MS = 5 * 60_000;
const DRIVER_TOKEN = new RegExp(DRIVER_TOKEN_PATTERN);

const ReservationBody = Type.Object(
  {
    station_id: StationId,
    driver_token: DriverToken,
    starts_at: Type.String({ format: 'date-time' }),
    ends_at: Type.String({ format: 'date-time' }),
  },
  { description: 'Validated field by field; every bad field is named in the 400.' },
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const ReservationView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  station_id: Type.String(),
  driver_token_hash_prefix: Type.String(),
  starts_at: Type.String({ format: 'date-time' }),
  ends_at: Type.String({ format: 'date-time' }),
  status: literals(RESERVATION_STATES, {
    description: '`ended` once ends_at has passed: a reservation ends by itself.',
  }),
  created_at: Type.String({ format: 'date-time' }),
  cancelled_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const tags = ['reservations'];
/** Reservations listed at once at most (the console shows a day's). */
const MAX_LISTED = 500;
const DAY_MS = 86_400_000;

const timeOf = (v: unknown) =>
  typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : Number.NaN;

interface Limits {
  maxLengthMs: number;
  maxAheadMs: number;
}

/** The window a body asks for, or (`window` null) every bad field. */
function windowOf(input: unknown, at: number, limits: Limits) {
  const body: Record<string, unknown> =
    typeof input === 'object' && input !== null ? { ...input } : {};
  const errors: FieldError[] = [];
  if (typeof body.station_id !== 'string' || !isUuid(body.station_id)) {
    errors.push({ field: 'station_id', message: FIELD_RULES.station_id });
  }
  if (typeof body.driver_token !== 'string' || !DRIVER_TOKEN.test(body.driver_token)) {
    errors.push({ field: 'driver_token', message: FIELD_RULES.driver_token });
  }
  const startsAt = timeOf(body.starts_at);
  const endsAt = timeOf(body.ends_at);
  if (Number.isNaN(startsAt) || startsAt < at - START_SLACK_MS) {
    errors.push({ field: 'starts_at', message: 'must be an RFC 3339 date-time, not in the past' });
  }
  if (Number.isNaN(endsAt) || endsAt <= startsAt) {
    errors.push({ field: 'ends_at', message: 'must be an RFC 3339 date-time after starts_at' });
  } else if (endsAt - startsAt > limits.maxLengthMs) {
    errors.push({
      field: 'ends_at',
      message: `must be at most ${limits.maxLengthMs / 60_000} minutes after starts_at`,
    });
  } else if (endsAt > at + limits.maxAheadMs) {
    errors.push({
      field: 'ends_at',
      message: `must be at most ${limits.maxAheadMs / 3_600_000} hours ahead`,
    });
  }
  const { station_id: stationId, driver_token: driverToken } = body;
  if (errors.length > 0 || typeof stationId !== 'string' || typeof driverToken !== 'string')
    return { errors, window: null };
  return {
    errors,
    window: { stationId: stationId.toLowerCase(), driverToken, startsAt, endsAt },
  };
}

/**
 * Reservations: create (`201`, or `409` when the window would book more charging points than the
 * station has), read and cancel by id. The id is the reservation's only credential: a random
 * UUID, told to whoever made it; the driver token is kept as a keyed hash and never shown.
 */
export function registerReservationRoutes(
  app: TypeBoxFastify,
  deps: {
    stations: StationStore;
    hasher: TokenHasher;
    callers: CallerOptions;
    limits: Limits;
    /** Present with ADMIN_TOKEN: operators list the reservations of a time range. */
    guard?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
    now?: () => number;
  },
): void {
  const { stations } = deps;
  const now = deps.now ?? Date.now;

  app.post(
    RESERVATIONS_PATH,
    {
      onRequest: identifyCaller(deps.callers, 'start'),
      attachValidation: true,
      schema: {
        summary: 'Reserve a charging point of a station for a window',
        tags,
        body: checkedByRoute(ReservationBody),
        response: { 201: ReservationView, 400: Problem, 404: Problem, 409: Problem },
      },
    },
    async (request, reply) => {
      const at = now();
      const { errors, window } = windowOf(request.body, at, deps.limits);
      if (window === null) return invalid(request, reply, errors);
      const { stationId, driverToken, startsAt, endsAt } = window;
      const station = await stations.get(stationId);
      if (station === null) return stationNotFound(request, reply);
      if (station.status === 'out_of_order') {
        return sendProblem(
          reply,
          problem(409, 'STATION_OUT_OF_ORDER', { instance: instanceOf(request) }),
        );
      }
      const result = await stations.reserve({
        id: randomUUID(),
        stationId,
        tokenHash: deps.hasher.hash(driverToken),
        startsAt,
        endsAt,
        createdAt: at,
        cancelledAt: null,
      });
      if (result.kind === 'no_station') return stationNotFound(request, reply);
      if (result.kind === 'full') {
        return sendProblem(
          reply,
          problem(409, 'RESERVATION_FULL', {
            instance: instanceOf(request),
            detail: `All ${result.capacity} charging points of this station are reserved for part of this window.`,
          }),
        );
      }
      request.log.info(
        { reservation_id: result.reservation.id, station_id: stationId },
        'reservation made',
      );
      return reply
        .code(201)
        .header('location', `${RESERVATIONS_PATH}/${result.reservation.id}`)
        .send(reservationView(result.reservation, at));
    },
  );

  const notFound = (request: Parameters<typeof instanceOf>[0]) =>
    problem(404, 'RESERVATION_NOT_FOUND', { instance: instanceOf(request) });

  app.get(
    `${RESERVATIONS_PATH}/:id`,
    {
      onRequest: identifyCaller(deps.callers, 'read'),
      schema: {
        summary: 'Read a reservation (never its driver token)',
        tags,
        params: IdParams,
        response: { 200: ReservationView, 404: Problem },
      },
    },
    async (request, reply) => {
      const found = await stations.getReservation(request.params.id.toLowerCase());
      return found === null ? sendProblem(reply, notFound(request)) : reservationView(found, now());
    },
  );

  app.delete(
    `${RESERVATIONS_PATH}/:id`,
    {
      onRequest: identifyCaller(deps.callers, 'start'),
      schema: {
        summary: 'Cancel a reservation: its charging point is free at once',
        tags,
        params: IdParams,
        response: { 200: ReservationView, 404: Problem },
      },
    },
    async (request, reply) => {
      const at = now();
      const cancelled = await stations.cancelReservation(request.params.id.toLowerCase(), at);
      if (cancelled === null) return sendProblem(reply, notFound(request));
      request.log.info({ reservation_id: cancelled.id }, 'reservation cancelled');
      return reservationView(cancelled, at);
    },
  );

  if (deps.guard === undefined) return;
  app.get(
    RESERVATIONS_PATH,
    {
      onRequest: deps.guard,
      schema: {
        summary: `Reservations overlapping from..to (default: today, UTC), by start, ${MAX_LISTED} at most`,
        tags,
        security: [{ adminToken: [] }],
        querystring: Type.Object({
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(ReservationView) }),
          400: Problem,
          401: Problem,
        },
      },
    },
    async (request, reply) => {
      const at = now();
      const dayStart = at - (at % DAY_MS);
      const from = request.query.from === undefined ? dayStart : timeOf(request.query.from);
      const to = request.query.to === undefined ? dayStart + DAY_MS : timeOf(request.query.to);
      if (Number.isNaN(from) || Number.isNaN(to) || to <= from) {
        return invalid(request, reply, [
          { field: 'to', message: 'from and to must be RFC 3339 date-times, from before to' },
        ]);
      }
      const items = await stations.reservationsBetween(from, to, MAX_LISTED);
      return { items: items.map((r) => reservationView(r, at)) };
    },
  );
}
