import fc from 'fast-check';
import { VALID_FIELDS } from './bad-input-arbitraries.js';

/**
 * Malformed HTTP/1.1 requests, as bytes, for what HTTP clients refuse to send. Each carries a
 * body whose driver token is invalid (so no framing accident can make it acceptable) and
 * secret, and says whether to half-close after sending: requests that leave the server
 * waiting for more bytes are ended by us, complete ones are left for the server to answer.
 */
export interface RawCase {
  family: string;
  payload: Buffer;
  halfClose: boolean;
}

export const PATH = '/api/v1/charging-sessions';
/** Invalid (it has a space), long enough to be looked for in every answer and log line. */
export const RAW_SECRET = 'raw-secret-token never-to-be-echoed';
const BODY = Buffer.from(JSON.stringify({ ...VALID_FIELDS, driver_token: RAW_SECRET }));
const BASE_HEADERS = ['Host: localhost', 'Content-Type: application/json'];

const bytes = (text: string) => Buffer.from(text, 'latin1');
const byteChar = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
const byteString = (maxLength: number) => fc.string({ unit: byteChar, maxLength });

function message(parts: {
  line?: string;
  headers?: readonly string[];
  body?: Buffer;
  eol?: string;
  close?: boolean;
}): Buffer {
  const body = parts.body ?? BODY;
  const eol = parts.eol ?? '\r\n';
  const headers = parts.headers ?? [...BASE_HEADERS, `Content-Length: ${body.length}`];
  const all = parts.close === false ? headers : [...headers, 'Connection: close'];
  const head = [parts.line ?? `POST ${PATH} HTTP/1.1`, ...all].join(eol) + eol + eol;
  return Buffer.concat([bytes(head), body]);
}

const complete = (family: string) => (payload: Buffer) => ({ family, payload, halfClose: false });

const requestLine = fc
  .record({
    method: fc.oneof(
      fc.constantFrom('POST', 'GET', 'PUT', 'post', 'P\0ST', 'GET GET', '', '\u00ff', 'PRI'),
      byteString(10),
    ),
    sp1: fc.constantFrom(' ', '  ', '\t', ''),
    target: fc.oneof(
      fc.constantFrom(PATH, '*', `http://evil.test${PATH}`, `${PATH}\0`, `${PATH} x`, '/\u00ff'),
      fc.constantFrom('/%zz', '', '/a b', `${PATH}#frag`, `\\${PATH}`, `${PATH}/\u0080`),
      byteString(50),
      fc.integer({ min: 8_000, max: 20_000 }).map((n) => `/${'a'.repeat(n)}`),
    ),
    sp2: fc.constantFrom(' ', '  ', '\t', ''),
    version: fc.constantFrom(
      ...['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/9.9', 'HTTP/1'],
      ...['http/1.1', 'HTTPS/1.1', '', 'HTTP/1.1 extra', 'HTTP/1.10', 'HTTP/\u00b9.1'],
    ),
    eol: fc.constantFrom('\r\n', '\n', '\r', '\n\r'),
  })
  .map((r) => message({ line: `${r.method}${r.sp1}${r.target}${r.sp2}${r.version}`, eol: r.eol }))
  .map(complete('request line'));

const chunked = fc
  .record({
    te: fc.constantFrom(
      ...['chunked', 'Chunked', ' chunked', 'chunked, chunked', 'gzip, chunked', 'chunked, gzip'],
      ...['identity', 'x-chunked', 'chunked\0', 'chunked;q=1'],
    ),
    secondTe: fc.boolean(),
    withLength: fc.boolean(),
    pieces: fc.integer({ min: 1, max: 6 }),
    sizeLine: fc.option(
      fc.constantFrom('zz', '-1', 'ffffffffffffffffffff', ' 5', '5 ', '0x5', '', '+5', '5;a="b'),
      { nil: undefined },
    ),
    longExtension: fc.boolean(),
    missingCrlf: fc.boolean(),
    overrun: fc.integer({ min: 0, max: 3 }),
    end: fc.constantFrom(
      ...['0\r\n\r\n', '0\r\nX-Trailer: a\r\nContent-Length: 5\r\n\r\n', '0\n\n', '0;x=y\r\n\r\n'],
      ...['00000000000000000000\r\n\r\n', '', '0\r\n'],
    ),
  })
  .map((c) => {
    const size = Math.ceil(BODY.length / c.pieces);
    const chunks: Buffer[] = [];
    for (let at = 0; at < BODY.length; at += size) {
      const data = BODY.subarray(at, at + size);
      const sizeText = at === 0 && c.sizeLine !== undefined ? c.sizeLine : data.length.toString(16);
      const extension = at === 0 && c.longExtension ? `;ext=${'x'.repeat(9_000)}` : '';
      const tail = c.missingCrlf && at === 0 ? '' : '\r\n';
      chunks.push(bytes(`${sizeText}${extension}\r\n`), data, bytes('x'.repeat(c.overrun) + tail));
    }
    const headers = [...BASE_HEADERS, `Transfer-Encoding: ${c.te}`];
    if (c.secondTe) headers.push('Transfer-Encoding: chunked');
    if (c.withLength) headers.push(`Content-Length: ${BODY.length}`);
    const payload = message({ headers, body: Buffer.concat([...chunks, bytes(c.end)]) });
    return { family: 'chunked', payload, halfClose: !c.end.endsWith('\n\n') };
  });

const contentLength = fc
  .record({
    values: fc.array(
      fc.constantFrom(
        ...['exact', 'exact', 'exact+5', '0', '5', '-1', '+10', '0x10', ' 10 ', '1e2'],
        ...['99999999999999999999', '', 'abc', 'exact, exact', '10, 11', '1\u00a0'],
      ),
      { minLength: 1, maxLength: 3 },
    ),
    withTe: fc.boolean(),
  })
  .map(({ values, withTe }) => {
    const header = (v: string) =>
      `Content-Length: ${v.replaceAll('exact+5', String(BODY.length + 5)).replaceAll('exact', String(BODY.length))}`;
    const headers = [...BASE_HEADERS, ...values.map(header)];
    if (withTe) headers.push('Transfer-Encoding: chunked');
    // Only a length beyond the body leaves the server waiting for bytes that never come.
    const halfClose = values.includes('exact+5');
    return { family: 'content-length', payload: message({ headers }), halfClose };
  });

const BAD_UTF8 = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0x80],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0x00],
  [0xef, 0xbb, 0xbf],
];
const invalidUtf8Body = fc
  .tuple(fc.nat(), fc.constantFrom(...BAD_UTF8))
  .map(([n, seq]) => {
    const at = n % (BODY.length + 1);
    const body = Buffer.concat([BODY.subarray(0, at), Buffer.from(seq), BODY.subarray(at)]);
    return message({ body });
  })
  .map(complete('invalid UTF-8'));

const nulBytes = fc
  .constantFrom(
    { line: `POST ${PATH}\0 HTTP/1.1` },
    { headers: [...BASE_HEADERS, 'X-A\0: b', `Content-Length: ${BODY.length}`] },
    { headers: [...BASE_HEADERS, 'Idempotency-Key: a\0b', `Content-Length: ${BODY.length}`] },
    {
      headers: [
        'Host: local\0host',
        'Content-Type: application/json\0',
        `Content-Length: ${BODY.length}`,
      ],
    },
    { body: Buffer.from(BODY.toString().replace('raw-secret', 'raw\0secret')) },
    { body: Buffer.concat([Buffer.alloc(1), BODY.subarray(1)]) },
  )
  .map((parts) => message(parts))
  .map(complete('NUL bytes'));

const longHeaders = fc
  .oneof(
    fc.integer({ min: 8_000, max: 40_000 }).map((n) => [`X-Long: ${'a'.repeat(n)}`]),
    fc
      .integer({ min: 100, max: 3_000 })
      .map((n) => Array.from({ length: n }, (_, i) => `X-H${i}: v`)),
    fc.integer({ min: 1_000, max: 20_000 }).map((n) => [`X-${'n'.repeat(n)}: v`]),
    fc.integer({ min: 256, max: 20_000 }).map((n) => [`Idempotency-Key: ${'k'.repeat(n)}`]),
  )
  .map((extra) =>
    message({ headers: [...BASE_HEADERS, ...extra, `Content-Length: ${BODY.length}`] }),
  )
  .map(complete('long headers'));

const headerInjection = fc
  .oneof(
    fc
      .record({
        name: fc.constantFrom('Idempotency-Key', 'X-Note', 'Content-Type', 'Host'),
        prefix: fc.string({ maxLength: 8 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
        breaker: fc.constantFrom(
          '\r',
          '\n',
          '\r\n',
          '\r\n ',
          '\r\n\t',
          '\n\n',
          '\r\r\n',
          '\x0b',
          '\x0c',
        ),
        injected: fc.constantFrom(
          ...[
            'Content-Length: 0',
            'Transfer-Encoding: chunked',
            'Host: evil.test',
            'X-Injected: 1',
          ],
          ...['Idempotency-Key: injected', ''],
        ),
      })
      .map((h) => `${h.name}: ${h.prefix}${h.breaker}${h.injected}`),
    fc.constantFrom(' X-Leading-Space: a', 'X-Space : a', 'NoColon', ': empty-name', 'X(a): b'),
    fc.constantFrom('X@: b', '\u00e9: b', 'X-A: \x7f', 'X-A: \x80\xff', 'Idempotency-Key:\u00a0k'),
    byteString(300).map((key) => `Idempotency-Key: ${key}`),
  )
  .map((line) => message({ headers: [...BASE_HEADERS, line, `Content-Length: ${BODY.length}`] }))
  .map(complete('header injection'));

const randomBytes = fc
  .tuple(
    fc.constantFrom('', `POST ${PATH} HTTP/1.1\r\n`, `POST ${PATH} HTTP/1.1\r\nHost: x\r\n`),
    fc.uint8Array({ maxLength: 4_096 }),
  )
  .map(([prefix, noise]) => ({
    family: 'random bytes',
    payload: Buffer.concat([bytes(prefix), noise]),
    halfClose: true,
  }));

const protocolTricks = fc
  .constantFrom(
    ['Expect: 100-continue'],
    ['Expect: foo'],
    ['Expect: 100-continue', 'Expect: 100-continue'],
    ['Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings', 'HTTP2-Settings: AAMAAABkAAQAAP__'],
    ['Upgrade: websocket', 'Connection: Upgrade'],
    ['Connection: keep-alive, close, upgrade'],
    ['TE: trailers'],
    ['Host: a', 'Host: b'],
    ['Host:'],
  )
  .map((extra) =>
    message({
      headers: [...extra, 'Content-Type: application/json', `Content-Length: ${BODY.length}`],
    }),
  )
  .map(complete('protocol tricks'));

const pipelined = byteString(200)
  .map((garbage) =>
    Buffer.concat([message({ close: false }), bytes(`${garbage}\r\n\r\n`), message({})]),
  )
  .map((payload) => ({ family: 'pipelined', payload, halfClose: false }));

export const malformedRequest: fc.Arbitrary<RawCase> = fc.oneof(
  requestLine,
  chunked,
  contentLength,
  invalidUtf8Body,
  nulBytes,
  longHeaders,
  headerInjection,
  randomBytes,
  protocolTricks,
  pipelined,
);
