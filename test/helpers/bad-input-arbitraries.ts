import fc from 'fast-check';
import { BODY_LIMIT_BYTES, FIELDS, TOKEN_ALPHABET } from './start-request-oracle.js';

/**
 * Generators of start-request bodies for the bad-input property tests: mostly broken, sometimes
 * valid by accident or on purpose. Every case carries its JSON text and, when it is worth
 * looking for, the driver-token candidate that must never be echoed.
 */
export interface BodyCase {
  text: string;
  secret?: string;
}

/** Token candidates shorter than this could occur in any problem body by coincidence. */
const SECRET_MIN_LENGTH = 8;
export const secretOf = (token: unknown): string | undefined =>
  typeof token === 'string' && token.length >= SECRET_MIN_LENGTH ? token : undefined;

export const VALID_FIELDS = {
  station_id: '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f',
  driver_token: 'DEMO-ALLOWED-0001-abcdefgh',
  callback_url: 'https://app.example.com/hooks/charging',
};
export const VALID_TEXT = JSON.stringify(VALID_FIELDS);

/** Characters that break identifiers, URLs and JSON in interesting ways. */
const ODD_CHARS = [
  ...' \t\n\r\0\u0001\u007f\u0085\u00a0\u200b\u2028\ufeff\u3000',
  ...'éßİК٣Ａ０😀',
  '\ud800', // lone surrogates: JSON.stringify escapes them, JSON.parse restores them
  '\udfff',
  ...'"\\/+=%#?@:[]{}<>`^|*!\',;&$()',
];
const oddChar = fc.oneof(
  { arbitrary: fc.constantFrom(...ODD_CHARS), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 1 },
);

/** One small edit at a random place: the typical near miss. */
function nearMiss(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edits = ['insert', 'replace', 'delete', 'duplicate', 'upper', 'pad'] as const;
  return fc.tuple(base, fc.nat(), oddChar, fc.constantFrom(...edits)).map(([s, n, c, edit]) => {
    const i = n % (s.length + 1);
    switch (edit) {
      case 'insert':
        return s.slice(0, i) + c + s.slice(i);
      case 'replace':
        return s.slice(0, i) + c + s.slice(i + 1);
      case 'delete':
        return s.slice(0, i) + s.slice(i + 1);
      case 'duplicate':
        return s.slice(0, i) + s.slice(i, i + 1) + s.slice(i);
      case 'upper':
        return s.toUpperCase();
      case 'pad':
        return n % 2 === 0 ? c + s : s + c;
    }
  });
}

const tokenChar = fc.constantFrom(...TOKEN_ALPHABET);
export const validStationId = fc.mixedCase(fc.uuid());
export const validToken = fc.string({ unit: tokenChar, minLength: 20, maxLength: 80 });
export const validCallbackUrl = fc
  .tuple(
    fc.mixedCase(fc.constantFrom('http', 'https')),
    fc.webUrl({
      validSchemes: ['x'],
      authoritySettings: { withIPv4: true, withIPv6: true, withUserInfo: true, withPort: true },
      withQueryParameters: true,
      withFragments: true,
    }),
  )
  .map(([scheme, url]) => scheme + url.slice(1));

const stationIdCandidate = fc.oneof(
  validStationId,
  nearMiss(validStationId),
  validStationId.map((u) => u.replaceAll('-', '')),
  fc
    .tuple(validStationId, fc.constantFrom('{%}', 'urn:uuid:%', '%\n', ' %', '%00', '"%"'))
    .map(([u, wrap]) => wrap.replace('%', u)),
  fc.constantFrom(
    '00000000-0000-0000-0000-000000000000',
    'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7',
    '0b9f3c2e5-d1a-4c6b-9e7f-2a3b4c5d6e7f',
    '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f\n',
    '０b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f',
  ),
  fc.string({ maxLength: 40 }),
);

const tokenCandidate = fc.oneof(
  validToken,
  fc.string({ unit: tokenChar, minLength: 19, maxLength: 19 }),
  fc.string({ unit: tokenChar, minLength: 81, maxLength: 81 }),
  fc.string({ unit: tokenChar, maxLength: 200 }),
  nearMiss(validToken),
  validToken.map((t) => `${t}\n`),
  fc.string({ unit: 'grapheme', minLength: 20, maxLength: 80 }),
);

const host = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.constantFrom(
    ...['münchen.de', 'xn--mnchen-3ya.de', 'пример.рф', '例え.jp', '☃.net', 'a。b.test', '::1'],
    ...['[::1', '[::1]]', '[::g]', '[1:2:3:4:5:6:7:8:9]', '[fe80::1%25eth0]', '[v1.abc]'],
    ...['[::ffff:127.0.0.1]', '0x7f.1', '1.2.3.999', '256.0.0.1', '', ' a.test', 'a b.test'],
    ...['forbidden.test', 'FORBIDDEN.TEST', '%66orbidden.test', 'forbidden.test.', '%00'],
  ),
);
const oddCallbackUrl = fc
  .record({
    scheme: fc.constantFrom(
      ...['http://', 'https://', 'HTTP://', 'hTtPs://', 'ftp://', 'ws://', 'file://', 'hxxp://'],
      ...[
        'javascript:',
        'data:text/plain,',
        'https:',
        'https:/',
        'https:\\\\',
        '//',
        '',
        'http:///',
      ],
    ),
    userinfo: fc.constantFrom('', 'user@', 'user:pass@', ':@', '@', 'us er@', 'ü:p@', 'a%40b@'),
    host,
    port: fc.constantFrom('', ':0', ':80', ':65535', ':65536', ':99999999999', ':-1', ':', ':8a'),
    path: fc.oneof(fc.webPath(), fc.constantFrom('/%', '/%zz', '/%00', '/a b', '/#a#b', '/[x]')),
  })
  .map((u) => u.scheme + u.userinfo + u.host + u.port + u.path);
const longCallbackUrl = fc
  .tuple(fc.integer({ min: 2040, max: 2060 }), fc.constantFrom('p', '%41', '😀'))
  .map(([length, unit]) => {
    const prefix = 'https://a.test/';
    return (prefix + unit.repeat(length)).slice(0, length);
  });

const callbackUrlCandidate = fc.oneof(
  validCallbackUrl,
  oddCallbackUrl,
  nearMiss(validCallbackUrl),
  longCallbackUrl,
  fc.string({ unit: 'grapheme', maxLength: 60 }),
);

const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
);

const extraFields = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 4,
});

/** A valid body with one field replaced by a near miss, a wrong type, nothing, or a valid value. */
export const oneFieldCorrupted: fc.Arbitrary<BodyCase> = fc
  .record({
    base: fc.record({
      station_id: validStationId,
      driver_token: validToken,
      callback_url: validCallbackUrl,
    }),
    field: fc.constantFrom(...FIELDS),
    how: fc.constantFrom('candidate', 'candidate', 'candidate', 'wrong_type', 'missing'),
    candidate: fc.record({
      station_id: stationIdCandidate,
      driver_token: tokenCandidate,
      callback_url: callbackUrlCandidate,
    }),
    wrongType,
    extras: fc.option(extraFields, { nil: undefined }),
    indent: fc.constantFrom(undefined, 0, 2, '\t'),
  })
  .map(({ base, field, how, candidate, wrongType: other, extras, indent }) => {
    const body: Record<string, unknown> = { ...extras, ...base };
    if (how === 'missing') delete body[field];
    else body[field] = how === 'candidate' ? candidate[field] : other;
    return { text: JSON.stringify(body, null, indent), secret: secretOf(body['driver_token']) };
  });

/** JSON values of every type: whole bodies, field values, and extras next to valid fields. */
export const anyJsonBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc.jsonValue().map((value) => ({ text: JSON.stringify(value) })),
  extraFields.map((extras) => ({
    text: JSON.stringify({ ...VALID_FIELDS, ...extras }),
    secret: VALID_FIELDS.driver_token,
  })),
  fc
    .record({
      station_id: fc.jsonValue(),
      driver_token: fc.jsonValue(),
      callback_url: fc.jsonValue(),
    })
    .map((body) => ({ text: JSON.stringify(body), secret: secretOf(body.driver_token) })),
  fc.tuple(fc.constantFrom(...FIELDS), fc.jsonValue()).map(([field, value]) => ({
    text: JSON.stringify({ ...VALID_FIELDS, [field]: value }),
    secret: field === 'driver_token' ? secretOf(value) : VALID_FIELDS.driver_token,
  })),
);

const NESTING = {
  array: ['[', ']'],
  object: ['{"a":', '}'],
  mixed: ['[{"k":', '}]'],
} as const;

/** Nesting thousands of levels deep, built as text; some cut short, some inside valid bodies. */
export const deeplyNested: fc.Arbitrary<BodyCase> = fc
  .record({
    depth: fc.oneof(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1_000, max: 8_000 }),
      fc.integer({ min: 8_000, max: 20_000 }),
    ),
    shape: fc.constantFrom('array', 'object', 'mixed'),
    core: fc.constantFrom('null', '1', '"x"', '{}', '[]', VALID_TEXT),
    placement: fc.constantFrom('whole', 'ignored_field', 'station_id', 'driver_token'),
    damage: fc.constantFrom('none', 'none', 'unclosed', 'extra_closer', 'trailing_comma'),
  })
  .map(({ depth, shape, core, placement, damage }) => {
    const [open, close] = NESTING[shape];
    let nested = open.repeat(depth) + core + close.repeat(depth);
    if (damage === 'unclosed') nested = nested.slice(0, -1);
    if (damage === 'extra_closer') nested += close;
    if (damage === 'trailing_comma') nested = `${nested.slice(0, -1)},${close.slice(-1)}`;
    if (placement === 'whole') return { text: nested };
    const key = placement === 'ignored_field' ? 'deep' : placement;
    const rest = JSON.stringify({ ...VALID_FIELDS, [key]: 0 });
    return {
      text: rest.replace(`"${key}":0`, `"${key}":${nested}`),
      secret: VALID_FIELDS.driver_token,
    };
  });

/** Bodies around and far above the 16 KiB limit, padded with one- to four-byte characters. */
export const hugeBody: fc.Arbitrary<BodyCase> = fc.oneof(
  fc
    .record({
      size: fc.integer({ min: BODY_LIMIT_BYTES - 48, max: BODY_LIMIT_BYTES + 48 }),
      unit: fc.constantFrom('x', 'é', '€', '😀'),
      into: fc.constantFrom('pad', 'driver_token', 'callback_url'),
    })
    .map(({ size, unit, into }) => {
      const empty = JSON.stringify({ ...VALID_FIELDS, [into]: '' });
      const room = size - Buffer.byteLength(empty);
      const units = Math.max(0, Math.floor(room / Buffer.byteLength(unit)));
      const fill =
        unit.repeat(units) + 'x'.repeat(Math.max(0, room - units * Buffer.byteLength(unit)));
      const text = JSON.stringify({ ...VALID_FIELDS, [into]: fill });
      return { text, secret: into === 'driver_token' ? secretOf(fill) : VALID_FIELDS.driver_token };
    }),
  fc.integer({ min: BODY_LIMIT_BYTES + 1, max: 256 * 1024 }).map((n) => ({
    text: JSON.stringify({ ...VALID_FIELDS, pad: 'x'.repeat(n) }),
    secret: VALID_FIELDS.driver_token,
  })),
  fc.integer({ min: 100, max: 12_000 }).map((n) => ({
    text: JSON.stringify({ ...VALID_FIELDS, many: new Array<number>(n).fill(0) }),
    secret: VALID_FIELDS.driver_token,
  })),
  fc.tuple(fc.constantFrom(...FIELDS), fc.integer({ min: 81, max: 20_000 })).map(([field, n]) => {
    const body = { ...VALID_FIELDS, [field]: 'A'.repeat(n) };
    return { text: JSON.stringify(body), secret: body.driver_token };
  }),
  fc.integer({ min: 100, max: 3_000 }).map((n) => ({
    text: JSON.stringify({
      ...Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])),
      ...VALID_FIELDS,
    }),
    secret: VALID_FIELDS.driver_token,
  })),
);

/** Keys as raw JSON string literals, escaped spellings included: JSON.stringify drops `__proto__`. */
const POLLUTING_KEYS = [
  ...['"__proto__"', '"constructor"', '"prototype"', '"\\u005f_proto__"', '"__proto\\u005F_"'],
  ...['"\\u005f\\u005fproto\\u005f\\u005f"', '"\\u0063onstructor"', '"proto\\u0074ype"'],
  ...['"toString"', '"valueOf"', '"hasOwnProperty"', '"__defineGetter__"', '"chargegatePolluted"'],
];
const jsonKey = fc.oneof(
  { arbitrary: fc.constantFrom(...POLLUTING_KEYS), weight: 3 },
  { arbitrary: fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)), weight: 1 },
);
const pollutingTree = fc.letrec<{ node: string; leaf: string; object: string; array: string }>(
  (tie) => ({
    node: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('object'), tie('array')),
    leaf: fc.oneof(
      fc.constantFrom('{"chargegatePolluted":true}', 'true', 'null', '{}', '[]'),
      fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
    ),
    object: fc
      .array(fc.tuple(jsonKey, tie('node')), { maxLength: 4 })
      .map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
    array: fc.array(tie('node'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
  }),
);

/** `__proto__`, `constructor` and `prototype` keys at any depth, alone or around valid fields. */
export const pollutingBody: fc.Arbitrary<BodyCase> = fc
  .record({
    tree: pollutingTree.object,
    topLevel: fc.array(fc.tuple(jsonKey, pollutingTree.node), { maxLength: 3 }),
    placement: fc.constantFrom('whole', 'beside_fields', 'in_ignored_field', 'deep_inside'),
    depth: fc.integer({ min: 1, max: 3_000 }),
  })
  .map(({ tree, topLevel, placement, depth }) => {
    if (placement === 'whole') return { text: tree };
    const fields = VALID_TEXT.slice(1, -1);
    const secret = VALID_FIELDS.driver_token;
    if (placement === 'beside_fields') {
      const entries = topLevel.map(([k, v]) => `${k}:${v}`);
      return { text: `{${[...entries, fields].join(',')}}`, secret };
    }
    const value =
      placement === 'deep_inside' ? '{"a":'.repeat(depth) + tree + '}'.repeat(depth) : tree;
    return { text: `{${fields},"extra":${value}}`, secret };
  });
