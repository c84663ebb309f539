import { randomUUID } from 'node:crypto';
import type { TypeBoxFastify } from '../http/type-provider.js';
import type { FastifyBaseLogger, FastifyError, FastifyRequest } from 'fastify';
import { sameToken } from '../lib/bearer.js';
import { fingerprintOf, type TokenHasher } from '../lib/token-hash.js';
import { authorize, type AclStore } from './acl.js';
import { ACL_REASONS } from '../contract/authorization.js';
import {
  MAX_TOKEN_UID_LENGTH,
  OCPI_TOKEN_TYPES,
  OCPI_TOKENS_PATH,
  type AllowedType,
  type OcpiTokenType,
} from '../contract/ocpi.js';

/**
 * The reference service's OCPI 2.2.1 face (docs/acl.md, docs/authorization.md): the eMSP side
 * of real-time authorization, `POST /ocpi/emsp/2.2.1/tokens/{token_uid}/authorize[?type=…]`
 * with a `LocationReferences` body, deciding from the same ACL as `/api/v1/authorize`. Every
 * answer is an OCPI response (`data`, `status_code`, `status_message`, `timestamp`), errors
 * included, and none names the URL (which holds the driver token).
 */

export const OCPI_AUTHORIZE_ROUTE = `${OCPI_TOKENS_PATH}/:token_uid/authorize`;

/** ACL reasons as OCPI's `AllowedType`. */
const ALLOWED_OF: Record<string, AllowedType> = {
  [ACL_REASONS.allowed]: 'ALLOWED',
  [ACL_REASONS.blocked]: 'BLOCKED',
  [ACL_REASONS.expired]: 'EXPIRED',
  [ACL_REASONS.notAtThisStation]: 'NOT_ALLOWED',
};

/** What the driver is shown when charging is refused. */
const DISPLAY_TEXT: Partial<Record<AllowedType, string>> = {
  BLOCKED: 'This card is blocked.',
  EXPIRED: 'This card has expired.',
  NOT_ALLOWED: 'This card cannot be used at this station.',
};

/** The party that owns the tokens, when the caller's routing headers do not name it. */
const DEFAULT_PARTY = { country_code: 'ZZ', party_id: 'REF' };

interface OcpiRequest {
  Params: { token_uid: string };
  Querystring: { type?: string };
  Body: unknown;
}

function envelope(statusCode: number, message: string, data?: unknown) {
  return {
    ...(data === undefined ? {} : { data }),
    status_code: statusCode,
    status_message: message,
    timestamp: new Date().toISOString(),
  };
}

/** `Token <base64>` as OCPI 2.2.1 requires; the raw token too, as 2.1.1 and 2.2 peers send it. */
function authenticated(header: string | undefined, credentialsToken: string): boolean {
  const match = /^token +(\S+)$/i.exec(header ?? '');
  const given = match?.[1];
  if (given === undefined) return false;
  const decoded = Buffer.from(given, 'base64').toString('utf8');
  return sameToken(decoded, credentialsToken) || sameToken(given, credentialsToken);
}

function locationIdOf(body: unknown): string | null {
  if (typeof body !== 'object' || body === null || !('location_id' in body)) return null;
  const id = body.location_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 36 ? id : null;
}

function evseUidsOf(body: unknown): string[] | undefined {
  const uids =
    typeof body === 'object' && body !== null && 'evse_uids' in body ? body.evse_uids : undefined;
  if (!Array.isArray(uids)) return undefined;
  return uids.filter((uid): uid is string => typeof uid === 'string');
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value.toUpperCase() : undefined;
}

export function registerOcpiAuthorize(
  app: TypeBoxFastify,
  options: {
    acl: AclStore;
    hasher: TokenHasher;
    credentialsToken: string;
    now: () => number;
  },
): void {
  const { acl, hasher, now } = options;
  void app.register((scope: TypeBoxFastify, _opts, done) => {
    // A body that is not JSON, or too large, still gets an OCPI answer, without the URL.
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const status = error.statusCode !== undefined && error.statusCode < 500 ? 400 : 500;
      if (status === 500) request.log.error({ err: error }, 'OCPI authorization failed');
      return reply
        .code(status)
        .send(envelope(status === 500 ? 3000 : 2001, 'The request could not be read.'));
    });
    scope.post<OcpiRequest>(
      OCPI_AUTHORIZE_ROUTE,
      { schema: { hide: true } },
      async (request, reply) => {
        if (!authenticated(request.headers.authorization, options.credentialsToken)) {
          return reply.code(401).send(envelope(2000, 'Unauthorized: no valid credentials token.'));
        }
        const token = request.params.token_uid;
        const type = request.query.type ?? 'RFID';
        const locationId = locationIdOf(request.body);
        if (token.length > MAX_TOKEN_UID_LENGTH || !OCPI_TOKEN_TYPES.includes(type as never)) {
          return reply.send(envelope(2001, 'Invalid or missing parameters.'));
        }
        if (locationId === null) {
          return reply.send(envelope(2002, 'Not enough information: location_id is required.'));
        }
        const tokenHash = hasher.hash(token);
        const entry = await acl.find(tokenHash);
        const answer = authorize(entry, locationId, now());
        log(request.log, tokenHash, locationId, answer.reason);
        if (answer.status === 'invalid') {
          return reply.code(404).send(envelope(2004, 'Unknown token.'));
        }
        const allowed = ALLOWED_OF[answer.reason] ?? 'NOT_ALLOWED';
        const owner = {
          country_code: header(request, 'ocpi-to-country-code') ?? DEFAULT_PARTY.country_code,
          party_id: header(request, 'ocpi-to-party-id') ?? DEFAULT_PARTY.party_id,
        };
        const asked = { uid: token, type: type as OcpiTokenType, hash: tokenHash, owner };
        const location = { location_id: locationId, evse_uids: evseUidsOf(request.body) };
        return reply.send(
          envelope(1000, 'Success', authorizationInfo(allowed, asked, location, now())),
        );
      },
    );
    done();
  });
}

/** An `AuthorizationInfo`: the verdict, the complete `Token`, the location when charging is
 * allowed (with the EVSEs asked about: the ACL allows all of a station's), a new reference,
 * and a text for the driver when it is not. */
function authorizationInfo(
  allowed: AllowedType,
  token: {
    uid: string;
    type: OcpiTokenType;
    hash: string;
    owner: { country_code: string; party_id: string };
  },
  location: { location_id: string; evse_uids: string[] | undefined },
  now: number,
) {
  const text = DISPLAY_TEXT[allowed];
  const { owner } = token;
  return {
    allowed,
    token: {
      ...owner,
      uid: token.uid,
      type: token.type,
      contract_id: `${owner.country_code}-${owner.party_id}-${fingerprintOf(token.hash)}`,
      issuer: 'Chargegate reference ACL',
      valid: allowed !== 'BLOCKED' && allowed !== 'EXPIRED',
      whitelist: 'NEVER',
      last_updated: new Date(now).toISOString(),
    },
    ...(allowed === 'ALLOWED'
      ? {
          location: {
            location_id: location.location_id,
            ...(location.evse_uids === undefined ? {} : { evse_uids: location.evse_uids }),
          },
        }
      : {}),
    authorization_reference: randomUUID(),
    ...(text === undefined ? {} : { info: { language: 'en', text } }),
  };
}

function log(logger: FastifyBaseLogger, tokenHash: string, locationId: string, reason: string) {
  logger.debug(
    { token_fingerprint: fingerprintOf(tokenHash), station_id: locationId.toLowerCase(), reason },
    'OCPI authorization decision',
  );
}
