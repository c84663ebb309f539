import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Type, type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';
import { DRIVER_TOKEN_PATTERN, FIELD_RULES, UUID_PATTERN } from '../contract/fields.js';
import { AppError } from '../lib/errors.js';
import type { TokenHasher } from '../lib/token-hash.js';
import type { AclEntry, AclPatch } from './acl.js';

/**
 * The ACL file format (documented in `docs/acl.md`) and its validation. The admin API accepts
 * the same entries, so it validates them with the same checks and reports the same messages.
 */

/** Each field's schema, checked one by one so that every bad field of every entry is reported
 * (TypeBox stops collecting errors after a few, which would hide the rest of a broken file). */
const ENTRY_FIELDS = {
  token: Type.String({
    pattern: DRIVER_TOKEN_PATTERN,
    description: `Driver token: ${FIELD_RULES.driver_token}. Never echoed, never logged.`,
  }),
  status: Type.Union([Type.Literal('active'), Type.Literal('blocked'), Type.Literal('expired')]),
  expires_at: Type.String({ format: 'date-time' }),
  stations: Type.Array(Type.String({ pattern: UUID_PATTERN })),
  note: Type.String(),
} satisfies Record<string, TSchema>;

type EntryField = keyof typeof ENTRY_FIELDS;

const FIELD_MESSAGES: Record<EntryField, string> = {
  token: FIELD_RULES.driver_token,
  status: 'must be "active", "blocked" or "expired"',
  expires_at: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
  stations: `must be an array of station ids, each ${FIELD_RULES.station_id}`,
  note: 'must be a string',
};

/** Which fields an object may have; `nullable` ones accept `null` (a patch removing them). */
type Shape = Partial<Record<EntryField, { required?: boolean; nullable?: boolean }>>;

const ENTRY_SHAPE: Shape = {
  token: { required: true },
  status: { required: true },
  expires_at: {},
  stations: {},
  note: {},
};
const PATCH_SHAPE: Shape = {
  status: {},
  expires_at: { nullable: true },
  stations: { nullable: true },
  note: { nullable: true },
};
const LOOKUP_SHAPE: Shape = { token: { required: true } };

const nullable = <T extends TSchema>(schema: T, removes: string) =>
  Type.Optional(Type.Union([schema, Type.Null()], { description: `null ${removes}.` }));

export const AclFileEntry = Type.Object(
  {
    token: ENTRY_FIELDS.token,
    status: ENTRY_FIELDS.status,
    expires_at: Type.Optional(ENTRY_FIELDS.expires_at),
    stations: Type.Optional(ENTRY_FIELDS.stations),
    note: Type.Optional(ENTRY_FIELDS.note),
  },
  { additionalProperties: false },
);
export type AclFileEntry = Static<typeof AclFileEntry>;

/** The whole file. Problems are found field by field (see above); this schema is the final
 * check and the type of a valid file. */
export const AclFile = Type.Object(
  { entries: Type.Array(AclFileEntry) },
  { additionalProperties: false },
);
export type AclFile = Static<typeof AclFile>;

/** A change through the admin API. The token is absent on purpose: it cannot be changed. */
export const AclEntryPatch = Type.Object(
  {
    status: Type.Optional(ENTRY_FIELDS.status),
    expires_at: nullable(ENTRY_FIELDS.expires_at, 'removes the expiry'),
    stations: nullable(ENTRY_FIELDS.stations, 'makes the token valid at every station'),
    note: nullable(ENTRY_FIELDS.note, 'removes the note'),
  },
  { additionalProperties: false },
);
export type AclEntryPatch = Static<typeof AclEntryPatch>;

export const AclLookup = Type.Object(
  { token: ENTRY_FIELDS.token },
  { additionalProperties: false },
);

/** One problem: `path` names the place (`entries[3].token`, `entries[3]`, `token`, `body`, or
 * '' for the whole document), `message` what is wrong, never quoting a token. */
export interface AclProblem {
  readonly path: string;
  readonly message: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** TypeBox's date-time format admits a few values `Date` cannot represent (leap seconds). */
const isDate = (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value));

const isValid = (field: EntryField, value: unknown) =>
  Value.Check(ENTRY_FIELDS[field], value) && (field !== 'expires_at' || isDate(value));

/** Unknown field names are shown only when shorter than any token: a token pasted as a key
 * (`{"DEMO-…": "active"}`) must not end up in an error message or a log. */
const MIN_TOKEN_LENGTH = 20;

const join = (base: string, field: string) => (base === '' ? field : `${base}.${field}`);

/** Problems of one object of the given shape; `base` is its path (`entries[3]`, or '' for a
 * request body). */
function objectProblems(value: unknown, base: string, shape: Shape): AclProblem[] {
  const here = base === '' ? 'body' : base;
  if (!isRecord(value)) return [{ path: here, message: 'must be an object' }];
  const problems: AclProblem[] = [];
  for (const [field, rule] of Object.entries(shape) as [EntryField, { required?: boolean }][]) {
    const given = value[field];
    if (given === undefined) {
      if (rule.required) problems.push({ path: join(base, field), message: 'is required' });
    } else if (!(given === null && shape[field]?.nullable) && !isValid(field, given)) {
      const orNull = shape[field]?.nullable ? ', or null' : '';
      problems.push({ path: join(base, field), message: FIELD_MESSAGES[field] + orNull });
    }
  }
  for (const key of Object.keys(value).filter((k) => !Object.hasOwn(shape, k))) {
    problems.push({
      path: here,
      message:
        key.length < MIN_TOKEN_LENGTH
          ? `${JSON.stringify(key)} is not a known field`
          : 'has an unknown field with a long name (not shown: it may be a token)',
    });
  }
  return problems;
}

/** Problems of one entry of a file (`base` `entries[3]`) or of a request body (`base` ''). */
export const entryProblems = (entry: unknown, base = ''): AclProblem[] =>
  objectProblems(entry, base, ENTRY_SHAPE);

/** Problems of a body looking an entry up by its token. */
export const lookupProblems = (body: unknown): AclProblem[] =>
  objectProblems(body, '', LOOKUP_SHAPE);

/** Problems of a patch; a token in it is refused with a hint rather than as an unknown field. */
export function patchProblems(patch: unknown): AclProblem[] {
  if (!isRecord(patch) || patch.token === undefined) return objectProblems(patch, '', PATCH_SHAPE);
  const rest = Object.fromEntries(Object.entries(patch).filter(([key]) => key !== 'token'));
  const message = 'cannot be changed: delete the entry and create one for the new token';
  return [{ path: 'token', message }, ...objectProblems(rest, '', PATCH_SHAPE)];
}

/** Problems of a whole document: the file, or the body of an import. */
export function documentProblems(document: unknown): AclProblem[] {
  if (!isRecord(document)) {
    return [{ path: '', message: 'must be a JSON object with an "entries" array' }];
  }
  const problems: AclProblem[] = [];
  for (const key of Object.keys(document).filter((k) => k !== 'entries')) {
    const message =
      key.length < MIN_TOKEN_LENGTH
        ? `${JSON.stringify(key)} is not a known top-level field (only "entries" is)`
        : 'an unknown top-level field with a long name (not shown: it may be a token)';
    problems.push({ path: '', message });
  }
  const entries = document.entries;
  if (!Array.isArray(entries))
    return [...problems, { path: 'entries', message: 'must be an array' }];
  const firstIndexOfToken = new Map<string, number>();
  entries.forEach((entry: unknown, index) => {
    problems.push(...entryProblems(entry, `entries[${index}]`));
    if (!isRecord(entry) || typeof entry.token !== 'string') return;
    const first = firstIndexOfToken.get(entry.token);
    if (first === undefined) firstIndexOfToken.set(entry.token, index);
    else {
      const message = `duplicates the token of entries[${first}]`;
      problems.push({ path: `entries[${index}].token`, message });
    }
  });
  return problems;
}

/** JSON.parse's messages may quote the text around the error, which may be a token: only the
 * position is kept, as line and column. */
function jsonSyntaxProblem(text: string, error: unknown): AclProblem {
  const position = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!position) return { path: '', message: 'is not valid JSON' };
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return { path: '', message: `is not valid JSON (line ${line}, column ${column})` };
}

function invalid(source: string, problems: readonly AclProblem[]): AppError {
  const list = problems
    .map(({ path, message }) => `  - ${path === '' ? '' : `${path}: `}${message}`)
    .join('\n');
  return new AppError('ACL_FILE_INVALID', `ACL file ${source} is invalid:\n${list}`);
}

const stationSet = (stations: readonly string[]) =>
  new Set(stations.map((station) => station.toLowerCase()));

/** A valid entry as the stores keep it: the token hashed, station ids lower-cased. */
export function toEntry(raw: AclFileEntry, hasher: TokenHasher): AclEntry {
  return {
    tokenHash: hasher.hash(raw.token),
    status: raw.status,
    ...(raw.expires_at === undefined ? {} : { expiresAt: Date.parse(raw.expires_at) }),
    ...(raw.stations === undefined ? {} : { stations: stationSet(raw.stations) }),
    ...(raw.note === undefined ? {} : { note: raw.note }),
  };
}

/** A valid patch as the stores take it. */
export function toPatch(raw: AclEntryPatch): AclPatch {
  const { expires_at: expiresAt, stations, note } = raw;
  return {
    ...(raw.status === undefined ? {} : { status: raw.status }),
    ...(expiresAt === undefined
      ? {}
      : { expiresAt: expiresAt === null ? null : Date.parse(expiresAt) }),
    ...(stations === undefined
      ? {}
      : { stations: stations === null ? null : stationSet(stations) }),
    ...(note === undefined ? {} : { note }),
  };
}

/**
 * Parses and validates ACL file text. Throws `ACL_FILE_INVALID` naming `source` and every bad
 * entry by index and field, never a token. The returned entries hold token hashes only.
 */
export function parseAcl(text: string, source: string, hasher: TokenHasher): AclEntry[] {
  // Editors on some platforms save JSON with a byte order mark, which JSON.parse rejects.
  const json = text.replace(/^\uFEFF/, '');
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch (error) {
    throw invalid(source, [jsonSyntaxProblem(json, error)]);
  }
  const problems = documentProblems(document);
  if (problems.length > 0) throw invalid(source, problems);
  // Cannot fail after the field-by-field check; it keeps the two definitions honest.
  if (!Value.Check(AclFile, document)) {
    throw invalid(source, [{ path: '', message: 'does not match the format' }]);
  }
  return document.entries.map((raw) => toEntry(raw, hasher));
}

/** Reads, validates and hashes an ACL file; see `parseAcl`. */
export async function loadAclFile(path: string, hasher: TokenHasher): Promise<AclEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new AppError('ACL_FILE_INVALID', `ACL file ${path} cannot be read (${code})`, {
      cause: error,
    });
  }
  return parseAcl(text, path, hasher);
}

/** The bundled example ACL (used when `ACL_FILE` is unset). The relative URL resolves to the
 * repository's `acl/` folder from both `src/acl-service/` and `dist/acl-service/`. */
export function bundledAclPath(): string {
  return fileURLToPath(new URL('../../acl/example.json', import.meta.url));
}
