import { randomUUID } from 'node:crypto';
import type { AuthorizationDetails, DisplayText } from '../store/port.js';
import type { AllowedType, OcpiParty, OcpiTokenType } from '../contract/ocpi.js';

/**
 * The worker's side of OCPI 2.2.1 real-time authorization (docs/authorization.md): the request
 * it sends to an eMSP's Tokens module and how it reads the `AuthorizationInfo` answer. The
 * values both sides share are in `contract/ocpi.ts`.
 */

/** `Authorization: Token <base64 of the credentials token>` (transport_and_format.asciidoc). */
export function tokenAuthorization(credentialsToken: string): string {
  return `Token ${Buffer.from(credentialsToken, 'utf8').toString('base64')}`;
}

export interface OcpiClientSettings {
  credentialsToken: string;
  tokenType: OcpiTokenType;
  /** Both or neither: the routing headers go only with both. */
  from?: OcpiParty;
  to?: OcpiParty;
}

/** The path and query of one authorize call below the Tokens endpoint's path. */
export function authorizePath(tokensPath: string, token: string, type: OcpiTokenType): string {
  const base = tokensPath.replace(/\/+$/, '');
  return `${base}/${encodeURIComponent(token)}/authorize?type=${type}`;
}

/** The headers of one call: a fresh request id, the charging request's id as correlation id. */
export function authorizeHeaders(
  settings: OcpiClientSettings,
  requestId: string,
): Record<string, string> {
  const { from, to } = settings;
  return {
    'content-type': 'application/json',
    authorization: tokenAuthorization(settings.credentialsToken),
    'x-request-id': randomUUID(),
    'x-correlation-id': requestId,
    ...(from === undefined || to === undefined
      ? {}
      : {
          'ocpi-from-country-code': from.countryCode,
          'ocpi-from-party-id': from.partyId,
          'ocpi-to-country-code': to.countryCode,
          'ocpi-to-party-id': to.partyId,
        }),
  };
}

/** The mapping of `AllowedType` onto Chargegate's decisions (docs/authorization.md). */
export const ALLOWED_MAPPING: Record<
  AllowedType,
  { decision: 'allowed' | 'not_allowed'; reason: string }
> = {
  ALLOWED: { decision: 'allowed', reason: 'active' },
  BLOCKED: { decision: 'not_allowed', reason: 'blocked' },
  EXPIRED: { decision: 'not_allowed', reason: 'expired' },
  NO_CREDIT: { decision: 'not_allowed', reason: 'no_credit' },
  NOT_ALLOWED: { decision: 'not_allowed', reason: 'not_at_this_station' },
};

export function isAllowedType(value: unknown): value is AllowedType {
  return typeof value === 'string' && Object.hasOwn(ALLOWED_MAPPING, value);
}

/** Limits on what is kept of an answer: the field sizes OCPI gives them, and a sane count. */
const MAX_REFERENCE_LENGTH = 36;
const MAX_EVSES = 100;
const MAX_EVSE_UID_LENGTH = 36;
const MAX_DISPLAY_TEXT_LENGTH = 512;

/**
 * What an `AuthorizationInfo` carries beside its verdict, each field kept only when it has the
 * shape OCPI gives it, and passed through `clean` (which strips control characters and the
 * driver token) since it is stored, shown and logged.
 */
export function detailsOf(data: Record<string, unknown>, clean: (text: string) => string) {
  const text = (value: unknown, max: number): string | null => {
    if (typeof value !== 'string') return null;
    const cleaned = clean(value).slice(0, max);
    return cleaned === '' ? null : cleaned;
  };
  const location = data['location'];
  const uids =
    typeof location === 'object' && location !== null
      ? (location as Record<string, unknown>)['evse_uids']
      : undefined;
  const evses = Array.isArray(uids)
    ? uids
        .slice(0, MAX_EVSES)
        .map((uid) => text(uid, MAX_EVSE_UID_LENGTH))
        .filter((uid): uid is string => uid !== null)
    : null;
  const info = data['info'];
  let displayText: DisplayText | null = null;
  if (typeof info === 'object' && info !== null) {
    const { language, text: shown } = info as Record<string, unknown>;
    const cleanLanguage = text(language, 2);
    const cleanText = text(shown, MAX_DISPLAY_TEXT_LENGTH);
    if (cleanLanguage !== null && cleanText !== null) {
      displayText = { language: cleanLanguage, text: cleanText };
    }
  }
  const details: AuthorizationDetails = {
    authorizationReference: text(data['authorization_reference'], MAX_REFERENCE_LENGTH),
    allowedEvses: evses,
    displayText,
  };
  return details;
}
