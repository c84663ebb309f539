import fc from 'fast-check';
import { METHODS } from 'node:http';
import {
  VALID_FIELDS,
  oneFieldCorrupted,
  validStationId,
  validToken,
} from './bad-input-arbitraries.js';

/**
 * Generators for the HTTP around a start request: content types and charsets, body encodings,
 * Idempotency-Key values, raw byte bodies, methods and paths. Only what undici will send;
 * the rest is in `raw-request-arbitraries.ts`.
 */

export const PATH = '/api/v1/charging-sessions';

const char = (code: number) => String.fromCharCode(code);
/** What undici accepts in a header value: tab, printable ASCII, and 0x80–0xFF sent as bytes. */
const headerChar = fc
  .oneof(
    { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 8 },
    { arbitrary: fc.integer({ min: 0x80, max: 0xff }), weight: 1 },
    { arbitrary: fc.constant(0x09), weight: 1 },
  )
  .map(char);
const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map(char);

const mediaTypeParameters = fc
  .array(
    fc.tuple(
      fc.constantFrom(';', ' ;', '; ', '\t;\t'),
      fc.constantFrom(
        ...['charset=utf-8', 'charset=UTF-8', 'charset=utf-16', 'charset=iso-8859-1', 'charset=""'],
        ...['charset="utf-8"', 'charset=latin1', 'charset=utf-32', 'foo=bar', 'x="a;b"', ''],
      ),
    ),
    { maxLength: 3 },
  )
  .map((parameters) => parameters.map(([separator, p]) => separator + p).join(''));

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', ' ', '\t'),
      fc.mixedCase(fc.constant('application/json')),
      fc.constantFrom('', ' ', '\t'),
      mediaTypeParameters,
    )
    .map((parts) => parts.join('')),
  fc.constantFrom(
    ...['text/plain', 'text/json', 'application/jsonx', 'application/json-patch+json'],
    ...['application/vnd.api+json', 'application/x-www-form-urlencoded', 'application/*', '*/*'],
    ...['multipart/form-data; boundary=x', 'application/json, text/plain', 'application/xml'],
    ...['application/octet-stream', 'json', 'application', '', ';', 'application/ json'],
    ...['application /json', 'application/json x', 'application/json"', 'application/problem+json'],
    ...['text/plain; charset=utf-8', 'application/ld+json', 'application\\/json'],
  ),
  fc.string({ unit: headerChar, maxLength: 40 }),
  fc.constant(undefined),
);

export const ENCODINGS = ['utf8', 'utf8', 'utf8-bom', 'utf16le-bom', 'utf16be', 'latin1'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export function encode(text: string, encoding: Encoding): Buffer {
  const utf16le = Buffer.from(text, 'utf16le');
  switch (encoding) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le]);
    case 'utf16be':
      return utf16le.swap16();
    case 'latin1':
      return Buffer.from(text, 'latin1');
  }
}

/** Start bodies with non-ASCII text in an ignored field, so encodings make a difference. */
export const encodableBody = fc.oneof(
  fc
    .record({
      station_id: validStationId,
      driver_token: validToken,
      note: fc.constantFrom('Grüße ⚡', 'plain', '日本語', '\u00e9'),
    })
    .map((fields) => ({
      text: JSON.stringify({ ...VALID_FIELDS, ...fields }),
      secret: fields.driver_token,
    })),
  oneFieldCorrupted,
);

export const idempotencyKey = fc.oneof(
  fc.constantFrom('order-1', 'order-2', ' order-1 ', 'order-1\t', 'k', 'K', 'k '),
  fc.string({ unit: printableAscii, minLength: 1, maxLength: 255 }),
  fc.string({ unit: printableAscii, minLength: 250, maxLength: 300 }),
  fc.constantFrom('', ' ', '\t', '\t \t', 'a\tb', 'a\u00a0b', '\u00e9t\u00e9', '\u00ff'),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map(char), minLength: 1, maxLength: 10 }),
  fc.string({ unit: headerChar, maxLength: 300 }),
);

/** Headers the API does not interpret, plus random ones; undici refuses the framing headers. */
const OTHER_HEADERS = [
  ...['traceparent', 'tracestate', 'x-request-id', 'accept', 'accept-encoding', 'accept-charset'],
  ...['authorization', 'cookie', 'content-encoding', 'content-language', 'forwarded', 'origin'],
  ...['x-forwarded-for', 'x-forwarded-host', 'user-agent', 'range', 'if-match', 'referer'],
  ...['x-http-method-override', '__proto__', 'constructor', 'prototype', 'hasownproperty'],
];
const FRAMING_HEADERS = new Set(
  ['content-type', 'idempotency-key', 'content-length', 'host', 'transfer-encoding', 'te'].concat([
    'connection',
    'keep-alive',
    'upgrade',
    'expect',
    'trailer',
    'proxy-connection',
  ]),
);
const TRACEPARENTS = [
  '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  '00-00000000000000000000000000000000-0000000000000000-01',
  'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
  '01-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-09-what',
  `00-${'z'.repeat(32)}-${'0'.repeat(16)}-01`,
  'garbage',
];
export const otherHeaders = fc.dictionary(
  fc
    .oneof(fc.constantFrom(...OTHER_HEADERS), fc.stringMatching(/^[a-z_][a-z0-9_-]{0,20}$/))
    .filter((name) => !FRAMING_HEADERS.has(name)),
  fc.oneof(fc.constantFrom(...TRACEPARENTS), fc.string({ unit: headerChar, maxLength: 200 })),
  { maxKeys: 4 },
);

/** A few bodies, reused so that keys meet the same body again (a replay) or another (422). */
export const keyedBody = fc.constantFrom(
  VALID_FIELDS,
  { ...VALID_FIELDS, driver_token: 'ANOTHER-token-0002-abcdefgh' },
  { ...VALID_FIELDS, station_id: VALID_FIELDS.station_id.toUpperCase() },
  { ...VALID_FIELDS, ignored: 'extra fields are not part of the request' },
  { ...VALID_FIELDS, driver_token: 'too-short' },
);

const BAD_UTF8 = [[0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x00]];
const BYTES_TOKEN = 'bytes-secret-0123456789abcdef';
const BYTES_BODY = Buffer.from(
  JSON.stringify({ ...VALID_FIELDS, driver_token: BYTES_TOKEN, note: 'some text here' }),
);

/** Random bytes, and valid bodies with invalid UTF-8 or noise spliced in anywhere. */
export const byteBody: fc.Arbitrary<{ bytes: Uint8Array; secret?: string }> = fc.oneof(
  fc.uint8Array({ maxLength: 2_048 }).map((bytes) => ({ bytes })),
  fc.uint8Array({ minLength: 16_000, maxLength: 17_000 }).map((bytes) => ({ bytes })),
  fc
    .tuple(
      fc.nat(),
      fc.oneof(
        fc.constantFrom(...BAD_UTF8).map((b) => Uint8Array.from(b)),
        fc.uint8Array(),
      ),
    )
    .map(([n, noise]) => {
      const at = n % (BYTES_BODY.length + 1);
      const bytes = Buffer.concat([BYTES_BODY.subarray(0, at), noise, BYTES_BODY.subarray(at)]);
      return { bytes, secret: BYTES_TOKEN };
    }),
);

/** Every method Node's parser knows, except CONNECT (which is not a request to a path). */
export const KNOWN_METHODS = METHODS.filter((m) => m !== 'CONNECT');

export const method = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_METHODS), weight: 4 },
  {
    arbitrary: fc.string({
      unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ-_!'),
      minLength: 1,
    }),
    weight: 1,
  },
);

const INTERESTING_PATHS = [
  ...[PATH, `${PATH}/`, `${PATH}/01234567-89ab-7def-8123-456789abcdef`, `${PATH}/%zz`],
  ...[`${PATH}/%`, `${PATH}/${'a'.repeat(101)}`, '/%', '/%zz', '/..', '/../../etc/passwd'],
  ...['/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/..%5c..%5cpackage.json'],
  ...['/docs/static/%c0%ae%c0%ae/', '/docs/static/a%00b', '/openapi.json%zz', '//', '/./'],
  ...['/admin/v1/dead-letters', '/health/ready', '/health/live', '/metrics', '/openapi.json'],
  ...['/docs', '/docs/json', '/docs/static/index.html', `${PATH}?x=1`, `${PATH.toUpperCase()}`],
];
const QUERIES = [
  '?__proto__[chargegatePolluted]=1',
  '?constructor[prototype][chargegatePolluted]=1',
  '?__proto__.chargegatePolluted=1&a=%zz',
  '?%',
  '?a[b][c][d][e][f]=1',
];
const pathChar = fc.integer({ min: 0x21, max: 0xff }).map(char);

export const path = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(...INTERESTING_PATHS),
      fc.webPath().map((p) => `/${p.replace(/^\//, '')}`),
      fc
        .tuple(
          fc.constantFrom(PATH, '/docs/static', '/health', '/openapi.json', ''),
          fc.string({ unit: pathChar, maxLength: 60 }),
        )
        .map(([prefix, rest]) => `${prefix}/${rest}`),
      fc.integer({ min: 1_000, max: 12_000 }).map((n) => `/${'a'.repeat(n)}`),
    ),
    fc.oneof(
      fc.constant(''),
      fc.constantFrom(...QUERIES),
      fc.webQueryParameters().map((q) => `?${q}`),
    ),
  )
  .map(([p, query]) => p + query);
