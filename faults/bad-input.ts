/**
 * Bad input mixed into the load: every kind must be refused with a `4xx` (or the `503` of a
 * stopping server; never `202`, never another `5xx`, never a crash), must cause no callback, and its driver token (each carries a fresh
 * one) must not be echoed or logged. The privacy scan looks for these tokens too.
 */
export const BAD_KINDS = [
  'bad-station',
  'bad-callback-url',
  'bad-token-character',
  'malformed-json',
  'wrong-content-type',
  'too-large',
  'prototype-key',
] as const;

export type BadKind = (typeof BAD_KINDS)[number];

/** Every this many requests, one is bad (4 %). */
export const BAD_EVERY = 25;

export interface Prepared {
  body: string;
  contentType: string;
}

export function badRequest(
  kind: BadKind,
  fields: { station_id: string; driver_token: string; callback_url: string },
): Prepared {
  const json = (value: object) => ({
    body: JSON.stringify(value),
    contentType: 'application/json',
  });
  switch (kind) {
    case 'bad-station':
      return json({ ...fields, station_id: 'not-a-station-uuid' });
    case 'bad-callback-url':
      return json({ ...fields, callback_url: 'ftp://callbacks.example.com/hook' });
    case 'bad-token-character':
      return json({ ...fields, driver_token: `${fields.driver_token}!` });
    case 'malformed-json':
      return { body: JSON.stringify(fields).slice(0, -12), contentType: 'application/json' };
    case 'wrong-content-type':
      return { body: JSON.stringify(fields), contentType: 'text/plain' };
    case 'too-large':
      return json({ ...fields, padding: 'x'.repeat(17 * 1024) });
    case 'prototype-key':
      return {
        body: `{"__proto__":{"polluted":true},${JSON.stringify(fields).slice(1)}`,
        contentType: 'application/json',
      };
  }
}
