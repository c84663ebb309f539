import {
  IsEnum,
  IsInteger,
  IsString,
  Type,
  type TObject,
  type TSchema,
  type TSchemaOptions,
} from 'typebox';

/**
 * The kinds of configuration variable, as TypeBox schemas over the text of the environment.
 * A schema checks the text (integers once read as numbers); a decoder turns checked text into
 * what the code uses (a duration into milliseconds). What a kind accepts is said in words once,
 * by `acceptedValues`, for the error that names a bad variable and for docs/configuration.md.
 */

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses `500ms`, `5s`, `2m`, `1h`, `7d` into milliseconds; `null` when malformed. */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (!match) return null;
  return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 0);
}

/** `0` needs no unit. */
const durationMs = (text: string) => (text.trim() === '0' ? 0 : parseDuration(text));

function scheduleMs(text: string): number[] | null {
  const parts = text.split(',').map((p) => p.trim());
  const delays = parts.map(parseDuration);
  // `split` gives at least one part: an empty text is one empty part, which does not parse.
  if (parts.length > 50) return null;
  return delays.every((d): d is number => d !== null && d >= 0) ? delays : null;
}

const SECRET = /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/;

function secretsOf(text: string): string[] | null {
  const secrets = text.split(/[\s,]+/).filter(Boolean);
  return secrets.length > 0 && secrets.every((s) => SECRET.test(s)) ? secrets : null;
}

/** The decoders run only on text their schema has checked, so `null` cannot reach them. */
function checked<T>(value: T | null): T {
  if (value === null) throw new TypeError('a configuration decoder ran on unchecked text');
  return value;
}

/** Text accepted when `test` says so; `expected` (a keyword of ours, which `acceptedValues`
 * reads) says what that is, in words. */
function checkedText(expected: string, test: (text: string) => boolean, options: TSchemaOptions) {
  return Type.Refine(Type.String({ ...options, expected }), test, () => `expected ${expected}`);
}

/** An integer from `minimum` to `maximum`. */
export const integer = (minimum: number, maximum: number, options: TSchemaOptions = {}) =>
  Type.Integer({ ...options, minimum, maximum });

/** Any text but the empty one (which means unset). */
export const text = (options: TSchemaOptions = {}) => Type.String({ ...options, minLength: 1 });

/** Text of at least `minLength` characters (a secret). */
export const longText = (minLength: number, options: TSchemaOptions = {}) =>
  Type.String({ ...options, minLength });

/** Text matching `pattern`, which `expected` describes. */
export const matching = (pattern: RegExp, expected: string, options: TSchemaOptions = {}) =>
  Type.String({ ...options, pattern: pattern.source, expected });

/** One of `values`. */
export const oneOf = <const Values extends string[]>(
  values: readonly [...Values],
  options: TSchemaOptions = {},
) => Type.Enum(values, options);

/** `true`/`1`/`yes` or `false`/`0`/`no`, as a boolean. */
export const flag = (options: TSchemaOptions = {}) =>
  Type.Decode(
    Type.Enum(['0', '1', 'true', 'false', 'yes', 'no'], options),
    (value) => value === 'true' || value === '1' || value === 'yes',
  );

/** An absolute URL of one of `protocols` (`redis:`, …). */
export const url = (protocols: string[], options: TSchemaOptions = {}) =>
  checkedText(
    `an absolute ${protocols.join(' or ')} URL`,
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    options,
  );

/** A duration (`30s`, `12h`, `7d`, or `0`), in milliseconds. */
export const duration = (options: TSchemaOptions = {}) =>
  Type.Decode(
    checkedText('a duration like 30s, 12h or 7d', (t) => durationMs(t) !== null, options),
    (t) => checked(durationMs(t)),
  );

/** Comma-separated durations (at most 50), in milliseconds. */
export const durations = (options: TSchemaOptions = {}) =>
  Type.Decode(
    checkedText(
      'comma-separated durations like 5s,30s,2m,1h',
      (t) => scheduleMs(t) !== null,
      options,
    ),
    (t) => checked(scheduleMs(t)),
  );

/** Webhook signing secrets, space- or comma-separated. */
export const secrets = (options: TSchemaOptions = {}) =>
  Type.Decode(
    checkedText(
      'whsec_ followed by base64 (at least 24 bytes)',
      (t) => secretsOf(t) !== null,
      options,
    ),
    (t) => checked(secretsOf(t)),
  );

/**
 * What a variable accepts, in words: for the error naming a bad one (`quote` leaves values as
 * they are) and for the table of docs/configuration.md (`quote` marks them as code).
 */
export function acceptedValues(
  schema: TSchema,
  quote: (value: string) => string = (v) => v,
): string {
  if ('expected' in schema && typeof schema.expected === 'string') return schema.expected;
  if (IsEnum(schema)) return `one of ${schema.enum.map((v) => quote(String(v))).join(', ')}`;
  if (IsInteger(schema) && 'minimum' in schema && 'maximum' in schema)
    return `an integer, ${String(schema.minimum)}–${String(schema.maximum)}`;
  if (IsString(schema) && 'minLength' in schema && Number(schema.minLength) > 1)
    return `at least ${String(schema.minLength)} characters`;
  return 'any text';
}

/**
 * The variables `schema` names, as its check expects them: unset and empty ones left out (an
 * empty variable means unset: `FOO= chargegate start` is no error), integers read as `Number`
 * reads them, so `1.5` or `eighty` stays a bad integer rather than being truncated or dropped.
 */
export function presentVariables(
  schema: TObject,
  env: Record<string, string | undefined>,
): Record<string, unknown> {
  const present: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(schema.properties)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    present[name] = IsInteger(variable) ? Number(value) : value;
  }
  return present;
}
