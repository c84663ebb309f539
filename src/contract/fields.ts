import { Type } from 'typebox';

/**
 * The request fields the public API and the reference authorization service both check, with
 * one pattern and one human message each, so the two never disagree on what a valid token is.
 */

export const UUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const DRIVER_TOKEN_PATTERN = '^[A-Za-z0-9._~-]{20,80}$';
export const CALLBACK_URL_MAX_LENGTH = 2048;

/** Human messages per field: Ajv's own ("must match pattern …") would confuse client developers. */
export const FIELD_RULES = {
  station_id: 'must be a UUID in canonical 8-4-4-4-12 hex form',
  driver_token: 'must be 20 to 80 characters of A-Z a-z 0-9 - . _ ~',
  callback_url: `must be an absolute http or https URL of at most ${CALLBACK_URL_MAX_LENGTH} characters`,
} as const;

export const StationId = Type.String({
  pattern: UUID_PATTERN,
  description: `Charging station id: ${FIELD_RULES.station_id}.`,
  examples: ['0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f'],
});

export const DriverToken = Type.String({
  pattern: DRIVER_TOKEN_PATTERN,
  description: `Driver token: ${FIELD_RULES.driver_token}. Never echoed, never logged.`,
  examples: ['DEMO-ALLOWED-0001-abcdefgh'],
});
