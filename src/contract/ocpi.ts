/**
 * OCPI 2.2.1 real-time authorization (docs/authorization.md), the values both sides share: the
 * worker's client asks an eMSP's Tokens module, `POST {tokens}/{token_uid}/authorize?type=…`
 * with `LocationReferences`, and the reference service answers it the same way.
 */

/** `TokenType` values of OCPI 2.2.1, sent as the `type` query parameter. */
export const OCPI_TOKEN_TYPES = ['AD_HOC_USER', 'APP_USER', 'OTHER', 'RFID'] as const;
export type OcpiTokenType = (typeof OCPI_TOKEN_TYPES)[number];

/** `CC-PID` as the configuration gives a party: ISO 3166 alpha-2 country, 3-character party. */
export const PARTY_PATTERN = /^[A-Za-z]{2}-[A-Za-z0-9]{3}$/;

export interface OcpiParty {
  countryCode: string;
  partyId: string;
}

/** `NL-CPO` → `{ countryCode: 'NL', partyId: 'CPO' }`; upper case, as OCPI writes them. */
export function parseParty(text: string): OcpiParty {
  const [countryCode = '', partyId = ''] = text.toUpperCase().split('-');
  return { countryCode, partyId };
}

/** `AllowedType`: the eMSP's verdict in an `AuthorizationInfo`. */
export type AllowedType = 'ALLOWED' | 'BLOCKED' | 'EXPIRED' | 'NO_CREDIT' | 'NOT_ALLOWED';

/** OCPI status codes the mapping names (status_codes.asciidoc). */
export const OCPI_STATUS = { success: 1000, unknownToken: 2004 } as const;

/** `Token.uid` is a CiString(36): a longer driver token cannot be an OCPI token. */
export const MAX_TOKEN_UID_LENGTH = 36;

/** The base path of the reference service's Tokens module (the eMSP interface). */
export const OCPI_TOKENS_PATH = '/ocpi/emsp/2.2.1/tokens';
