import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Type, type Static, type TSchema } from 'typebox';
import Value from 'typebox/value';
import { DRIVER_TOKEN_PATTERN, FIELD_RULES, UUID_PATTERN } from '../api/schemas.js';
import { AppError } from '../errors.js';
import type { TokenHasher } from '../lib/token-hash.js';
import { ACL_REASONS, type AuthorizeResponseBody } from './contract.js';

/**
 * The reference authorization service's access control list: the file format (documented in
 * `docs/acl.md`), its validation, the store the service reads, and the rule that turns an entry
 * into an answer. Only keyed hashes of tokens survive loading: a heap dump or a future database
 * table of the ACL does not reveal the tokens.
 */

export type AclEntryStatus = 'active' | 'blocked' | 'expired';

/** One loaded ACL entry. Raw tokens are gone; station ids are lower-case. */
export interface AclEntry {
  readonly tokenHash: string;
  readonly status: AclEntryStatus;
  /** Epoch milliseconds; the token is expired from this instant on. */
  readonly expiresAt?: number;
  /** Absent: valid at every station. */
  readonly stations?: ReadonlySet<string>;
  readonly note?: string;
}

/**
 * Where the service looks tokens up. The in-memory store below is the only one today; a
 * SQLite/PostgreSQL store with an admin API will implement the same two methods, which is why
 * both are asynchronous.
 */
export interface AclStore {
  /** The entry whose token has this keyed hash, or `undefined` when the ACL does not know it.
   * Rejects only when the store itself fails; the service then answers 500, which the worker
   * records as `unknown`. */
  find(tokenHash: string): Promise<AclEntry | undefined>;
  /** Resolves when `find` can be answered; `/health/ready` reports a rejection as not ready. */
  ping(): Promise<void>;
}

export function createMemoryAclStore(entries: readonly AclEntry[]): AclStore {
  const byHash = new Map(entries.map((entry) => [entry.tokenHash, entry]));
  return {
    find: (tokenHash) => Promise.resolve(byHash.get(tokenHash)),
    ping: () => Promise.resolve(),
  };
}

/**
 * The ACL's verdict for a token at a station. The order matters and mirrors OCPP: a blocked
 * token is reported as blocked even when it has also expired or is at the wrong station,
 * because "blocked" is the reason a driver most needs to hear.
 */
export function authorize(
  entry: AclEntry | undefined,
  stationId: string,
  now: number,
): AuthorizeResponseBody {
  if (entry === undefined) return { status: 'invalid', reason: ACL_REASONS.unknownToken };
  if (entry.status === 'blocked') return { status: 'not_allowed', reason: ACL_REASONS.blocked };
  if (entry.status === 'expired' || (entry.expiresAt !== undefined && entry.expiresAt <= now)) {
    return { status: 'not_allowed', reason: ACL_REASONS.expired };
  }
  if (entry.stations !== undefined && !entry.stations.has(stationId.toLowerCase())) {
    return { status: 'not_allowed', reason: ACL_REASONS.notAtThisStation };
  }
  return { status: 'allowed', reason: ACL_REASONS.allowed };
}

// ---------------------------------------------------------------------------------------------
// The file format
// ---------------------------------------------------------------------------------------------

/** Each field's schema, checked one by one so that every bad field of every entry is reported
 * (TypeBox stops collecting errors after a few, which would hide the rest of a broken file). */
const ENTRY_FIELDS = {
  token: Type.String({ pattern: DRIVER_TOKEN_PATTERN }),
  status: Type.Union([Type.Literal('active'), Type.Literal('blocked'), Type.Literal('expired')]),
  expires_at: Type.String({ format: 'date-time' }),
  stations: Type.Array(Type.String({ pattern: UUID_PATTERN })),
  note: Type.String(),
} satisfies Record<string, TSchema>;

type EntryField = keyof typeof ENTRY_FIELDS;

const REQUIRED_FIELDS: readonly EntryField[] = ['token', 'status'];

const FIELD_MESSAGES: Record<EntryField, string> = {
  token: FIELD_RULES.driver_token,
  status: 'must be "active", "blocked" or "expired"',
  expires_at: 'must be an ISO 8601 date-time with a time zone, e.g. 2030-01-01T00:00:00Z',
  stations: `must be an array of station ids, each ${FIELD_RULES.station_id}`,
  note: 'must be a string',
};

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

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Unknown field names are shown only when shorter than any token: a token pasted as a key
 * (`{"DEMO-…": "active"}`) must not end up in an error message or a log. */
const MIN_TOKEN_LENGTH = 20;

/** Problems of one entry, each prefixed with `at` (`entries[3]`). */
function entryProblems(entry: unknown, at: string): string[] {
  if (!isRecord(entry)) return [`${at} must be an object`];
  const problems: string[] = [];
  for (const [field, schema] of Object.entries(ENTRY_FIELDS) as [EntryField, TSchema][]) {
    const value = entry[field];
    if (value === undefined) {
      if (REQUIRED_FIELDS.includes(field)) problems.push(`${at}.${field}: is required`);
    } else if (!Value.Check(schema, value) || (field === 'expires_at' && !isDate(value))) {
      problems.push(`${at}.${field}: ${FIELD_MESSAGES[field]}`);
    }
  }
  for (const key of Object.keys(entry).filter((k) => !Object.hasOwn(ENTRY_FIELDS, k))) {
    problems.push(
      key.length < MIN_TOKEN_LENGTH
        ? `${at}: ${JSON.stringify(key)} is not a known field`
        : `${at} has an unknown field with a long name (not shown: it may be a token)`,
    );
  }
  return problems;
}

/** TypeBox's date-time format admits a few values `Date` cannot represent (leap seconds). */
const isDate = (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value));

function fileProblems(document: unknown): string[] {
  if (!isRecord(document)) return ['must be a JSON object with an "entries" array'];
  const problems: string[] = [];
  for (const key of Object.keys(document).filter((k) => k !== 'entries')) {
    problems.push(
      key.length < MIN_TOKEN_LENGTH
        ? `${JSON.stringify(key)} is not a known top-level field (only "entries" is)`
        : 'an unknown top-level field with a long name (not shown: it may be a token)',
    );
  }
  const entries = document.entries;
  if (!Array.isArray(entries)) return [...problems, 'entries: must be an array'];
  const firstIndexOfToken = new Map<string, number>();
  entries.forEach((entry: unknown, index) => {
    problems.push(...entryProblems(entry, `entries[${index}]`));
    if (!isRecord(entry) || typeof entry.token !== 'string') return;
    const first = firstIndexOfToken.get(entry.token);
    if (first === undefined) firstIndexOfToken.set(entry.token, index);
    else problems.push(`entries[${index}].token: duplicates the token of entries[${first}]`);
  });
  return problems;
}

/** JSON.parse's messages may quote the text around the error, which may be a token: only the
 * position is kept, as line and column. */
function jsonSyntaxProblem(text: string, error: unknown): string {
  const position = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!position) return 'is not valid JSON';
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `is not valid JSON (line ${line}, column ${column})`;
}

function invalid(source: string, problems: readonly string[]): AppError {
  const list = problems.map((p) => `  - ${p}`).join('\n');
  return new AppError('ACL_FILE_INVALID', `ACL file ${source} is invalid:\n${list}`);
}

function toEntry(raw: AclFileEntry, hasher: TokenHasher): AclEntry {
  return {
    tokenHash: hasher.hash(raw.token),
    status: raw.status,
    ...(raw.expires_at === undefined ? {} : { expiresAt: Date.parse(raw.expires_at) }),
    ...(raw.stations === undefined
      ? {}
      : { stations: new Set(raw.stations.map((s) => s.toLowerCase())) }),
    ...(raw.note === undefined ? {} : { note: raw.note }),
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
  const problems = fileProblems(document);
  if (problems.length > 0) throw invalid(source, problems);
  // Cannot fail after the field-by-field check; it keeps the two definitions honest.
  if (!Value.Check(AclFile, document)) throw invalid(source, ['does not match the format']);
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
 * repository's `acl/` folder from both `src/authorization/` and `dist/authorization/`. */
export function bundledAclPath(): string {
  return fileURLToPath(new URL('../../acl/example.json', import.meta.url));
}
