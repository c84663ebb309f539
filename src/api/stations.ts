import type { FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { checkedByRoute, literals, type TypeBoxFastify } from '../http/type-provider.js';
import { randomUUID } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { isUuid } from '../lib/ids.js';
import {
  boxAround,
  CONNECTOR_TYPES,
  distanceKm,
  POINT_STATUSES,
  STATION_STATUSES,
  type StationStatus,
  type StationStore,
} from '../stations/port.js';
import { stationInputErrors, stationOf, stationView, type FieldError } from '../stations/manage.js';
import { identifyCaller, type CallerOptions } from './callers.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';
import { StationId } from '../contract/fields.js';
import { Problem } from '../http/problem.js';

export const STATIONS_PATH = '/api/v1/stations';

const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;
const DEFAULT_RADIUS_KM = 10;
/** A `near=` search looks at most this far: a city region, not a continent. */
const MAX_RADIUS_KM = 500;
/** Stations read from the box around a `near=` point at most; the nearest are chosen in code.
 * Bounds the work of one search whatever the catalog's size and density. */
export const MAX_NEAR_CANDIDATES = 5_000;
const NEAR_PATTERN = /^(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)$/;

const tags = ['stations'];
const operator = [{ adminToken: [] }];
const IdParams = Type.Object({ id: StationId });
const StatusBody = Type.Object({ status: literals(STATION_STATUSES) });
const StationBody = Type.Object(
  {
    name: Type.String(),
    location: Type.Object({ lat: Type.Number(), lon: Type.Number() }),
    address: Type.Object({
      street: Type.String(),
      city: Type.String(),
      postal_code: Type.String(),
      country: Type.String({ description: 'ISO 3166-1 alpha-2' }),
    }),
    status: Type.Optional(literals(STATION_STATUSES)),
    charging_points: Type.Array(
      Type.Object({
        id: Type.String(),
        connector_type: Type.String({ examples: ['CCS2', 'Type2', 'CHAdeMO'] }),
        max_power_kw: Type.Number(),
        status: Type.Optional(Type.String()),
      }),
    ),
  },
  { description: 'Validated field by field; every bad field is named in the 400.' },
);
/** A station as the API shows it (`stationView`); `distance_km` only in a `near=` search. */
const StationView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  location: Type.Object({ lat: Type.Number(), lon: Type.Number() }),
  address: Type.Object({
    street: Type.String(),
    city: Type.String(),
    postal_code: Type.String(),
    country: Type.String(),
  }),
  status: literals(STATION_STATUSES),
  charging_points: Type.Array(
    Type.Object({
      id: Type.String(),
      connector_type: literals(CONNECTOR_TYPES),
      max_power_kw: Type.Number(),
      status: literals(POINT_STATUSES),
    }),
  ),
  updated_at: Type.String({ format: 'date-time' }),
  distance_km: Type.Optional(Type.Number()),
});
const ListQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: `1 to ${MAX_PAGE}; default ${DEFAULT_PAGE}` })),
  after: Type.Optional(Type.String({ description: 'The `next` of the previous page.' })),
  status: Type.Optional(literals(STATION_STATUSES)),
  near: Type.Optional(Type.String({ description: '`lat,lon`: nearest first, within radius_km' })),
  radius_km: Type.Optional(
    Type.String({ description: `Up to ${MAX_RADIUS_KM}; default ${DEFAULT_RADIUS_KM}` }),
  ),
});

const isStationStatus = (value: unknown): value is StationStatus =>
  STATION_STATUSES.some((status) => status === value);

export function invalid(request: FastifyRequest, reply: FastifyReply, errors: FieldError[]) {
  return sendProblem(
    reply,
    problem(400, 'REQUEST_INVALID', {
      instance: instanceOf(request),
      detail: `${errors.length} invalid field${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.field).join(', ')}.`,
      errors,
    }),
  );
}

export const stationNotFound = (request: FastifyRequest, reply: FastifyReply) =>
  sendProblem(reply, problem(404, 'STATION_NOT_FOUND', { instance: instanceOf(request) }));

/** The query's paging and search, or the bad fields. */
function parseList(q: Static<typeof ListQuery>) {
  const errors: FieldError[] = [];
  const limit = q.limit === undefined ? DEFAULT_PAGE : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    errors.push({ field: 'limit', message: `must be an integer from 1 to ${MAX_PAGE}` });
  }
  let near: { lat: number; lon: number } | undefined;
  if (q.near !== undefined) {
    const match = NEAR_PATTERN.exec(q.near);
    const lat = Number(match?.[1]);
    const lon = Number(match?.[2]);
    if (match === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      errors.push({ field: 'near', message: 'must be lat,lon in degrees, e.g. 52.52,13.405' });
    } else near = { lat, lon };
  }
  const radiusKm = q.radius_km === undefined ? DEFAULT_RADIUS_KM : Number(q.radius_km);
  if (!Number.isFinite(radiusKm) || radiusKm <= 0 || radiusKm > MAX_RADIUS_KM) {
    errors.push({
      field: 'radius_km',
      message: `must be a number above 0, at most ${MAX_RADIUS_KM}`,
    });
  }
  return { errors, limit, near, radiusKm };
}

/**
 * The station catalog: anyone who may read requests lists and reads it; writes need ADMIN_TOKEN
 * (`guard`), and are not registered without one. `PUT …/{id}/status` is what a charging station
 * management system calls to keep statuses current.
 */
export function registerStationRoutes(
  app: TypeBoxFastify,
  deps: {
    stations: StationStore;
    callers: CallerOptions;
    guard?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
    now?: () => number;
  },
): void {
  const { stations } = deps;
  const now = deps.now ?? Date.now;
  const read = identifyCaller(deps.callers, 'read');

  app.get(
    STATIONS_PATH,
    {
      onRequest: read,
      schema: {
        summary: 'List stations: by id, paged, or nearest first with near=',
        tags,
        querystring: ListQuery,
        response: {
          200: Type.Object({
            items: Type.Array(StationView),
            next: Type.Union([Type.String(), Type.Null()]),
          }),
          400: Problem,
        },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const { errors, limit, near, radiusKm } = parseList(q);
      if (errors.length > 0) return invalid(request, reply, errors);
      if (near === undefined) {
        const page = await stations.list({
          limit,
          ...(q.after === undefined ? {} : { after: q.after.toLowerCase() }),
          ...(q.status === undefined ? {} : { status: q.status }),
        });
        return { items: page.items.map((s) => stationView(s)), next: page.next };
      }
      const candidates = await stations.inBox({
        ...boxAround(near, radiusKm),
        limit: MAX_NEAR_CANDIDATES,
        ...(q.status === undefined ? {} : { status: q.status }),
      });
      const found = candidates
        .map((station) => ({ station, km: distanceKm(near, station.location) }))
        .filter((c) => c.km <= radiusKm)
        .sort((a, b) => a.km - b.km)
        .slice(0, limit);
      return {
        items: found.map((c) =>
          stationView(c.station, { distance_km: Math.round(c.km * 1000) / 1000 }),
        ),
        next: null,
      };
    },
  );

  app.get(
    `${STATIONS_PATH}/:id`,
    {
      onRequest: read,
      schema: {
        summary: 'Read a station',
        tags,
        params: IdParams,
        response: { 200: StationView, 404: Problem },
      },
    },
    async (request, reply) => {
      const station = await stations.get(request.params.id.toLowerCase());
      return station === null ? stationNotFound(request, reply) : stationView(station);
    },
  );

  if (deps.guard === undefined) return;
  const write = <Schema extends FastifySchema>(summary: string, extra: Schema) => ({
    onRequest: deps.guard,
    attachValidation: true,
    schema: { summary, tags, security: operator, ...extra },
  });

  const put = async (id: string, request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body;
    const errors = stationInputErrors(body);
    if (errors.length > 0) return invalid(request, reply, errors);
    const station = stationOf(id, body, now());
    const created = await stations.put(station);
    request.log.info({ station_id: station.id, created }, 'station stored');
    return reply.code(created ? 201 : 200).send(stationView(station));
  };

  app.post(
    STATIONS_PATH,
    write('Add a station (its id is made here)', {
      body: checkedByRoute(StationBody),
      response: { 200: StationView, 201: StationView, 400: Problem, 401: Problem },
    }),
    async (request, reply) => put(randomUUID(), request, reply),
  );

  app.put(
    `${STATIONS_PATH}/:id`,
    write('Create or replace a station', {
      params: IdParams,
      body: checkedByRoute(StationBody),
      response: { 200: StationView, 201: StationView, 400: Problem, 401: Problem },
    }),
    async (request, reply) => {
      if (!isUuid(request.params.id)) {
        return invalid(request, reply, [{ field: 'id', message: 'must be a UUID' }]);
      }
      return put(request.params.id, request, reply);
    },
  );

  app.put(
    `${STATIONS_PATH}/:id/status`,
    write("Set a station's status (what a CSMS calls when a station breaks or is repaired)", {
      params: IdParams,
      body: checkedByRoute(StatusBody),
      response: { 200: StationView, 400: Problem, 401: Problem, 404: Problem },
    }),
    async (request, reply) => {
      const { body } = request;
      const status =
        typeof body === 'object' && body !== null && 'status' in body ? body.status : undefined;
      if (!isStationStatus(status) || !isUuid(request.params.id)) {
        return invalid(request, reply, [
          { field: 'status', message: `must be one of ${STATION_STATUSES.join(', ')}` },
        ]);
      }
      const id = request.params.id.toLowerCase();
      const changed = await stations.setStatus(id, status, now());
      if (changed === null) return stationNotFound(request, reply);
      request.log.info({ station_id: id, status }, 'station status set');
      return stationView(changed);
    },
  );

  app.delete(
    `${STATIONS_PATH}/:id`,
    write('Delete a station and its reservations', {
      params: IdParams,
      response: { 204: Type.Null({ description: 'Deleted.' }), 401: Problem, 404: Problem },
    }),
    async (request, reply) => {
      if (!(await stations.remove(request.params.id.toLowerCase()))) {
        return stationNotFound(request, reply);
      }
      request.log.info({ station_id: request.params.id }, 'station deleted');
      return reply.code(204).send(null);
    },
  );
}
