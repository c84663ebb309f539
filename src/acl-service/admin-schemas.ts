import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../contract/fields.js';
import { Problem } from '../http/problem.js';
import type { AclImportResult, AclRecord } from './acl.js';
import { fingerprintOf } from '../lib/token-hash.js';

/**
 * The ACL admin API's schemas. Request bodies are those of `acl-file.ts` (the admin API takes
 * entries exactly as the file writes them); these are the views, parameters and answers. The
 * same objects validate, serialize and generate the OpenAPI document.
 */

export const ACL_ADMIN_PREFIX = '/admin/v1/acl';

/** Listing pages are bounded so one call cannot make the service load the whole ACL. */
export const MAX_PAGE = 500;
export const DEFAULT_PAGE = 50;

const Timestamp = Type.String({ format: 'date-time' });

export const AclEntryView = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'Assigned by the service; never changes.' }),
    token_hash_prefix: Type.String({
      description:
        "The first 12 hex characters of the token's keyed hash: the `token_fingerprint` of the service's log lines. Neither the token nor its full hash is ever shown.",
      examples: ['3f9a0c1d7e2b'],
    }),
    status: Type.Union([Type.Literal('active'), Type.Literal('blocked'), Type.Literal('expired')]),
    expires_at: Type.Union([Timestamp, Type.Null()], {
      description: 'From this instant on, the token is expired; null: it does not expire.',
    }),
    stations: Type.Union([Type.Array(Type.String({ format: 'uuid' })), Type.Null()], {
      description: 'Lower-case station ids where the token is valid; null: every station.',
    }),
    note: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { description: 'An ACL entry as the admin API shows it: without its token.' },
);
export type AclEntryView = Static<typeof AclEntryView>;

export const AclEntryPage = Type.Object({
  items: Type.Array(AclEntryView),
  next: Type.Optional(
    Type.String({ description: 'Pass as `after` for the next page; absent on the last page.' }),
  ),
});

export const EntryParams = Type.Object({
  id: Type.String({ description: 'The entry id (a UUID).' }),
});
export type EntryParams = Static<typeof EntryParams>;

export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
  after: Type.Optional(
    Type.String({ pattern: UUID_PATTERN, description: 'The `next` of the previous page.' }),
  ),
});
export type PageQuery = Static<typeof PageQuery>;

export const ImportQuery = Type.Object({
  mode: Type.Optional(
    Type.Union([Type.Literal('upsert'), Type.Literal('replace')], {
      default: 'upsert',
      description:
        '`upsert` keeps entries whose token is not in the body; `replace` deletes them, so the ACL becomes exactly the body.',
    }),
  ),
});
export type ImportQuery = Static<typeof ImportQuery>;

export const ImportSummary = Type.Object(
  {
    mode: Type.Union([Type.Literal('upsert'), Type.Literal('replace')]),
    imported: Type.Integer({ description: 'Entries in the body.' }),
    created: Type.Integer({ description: 'Entries for tokens the ACL did not have.' }),
    updated: Type.Integer({
      description: 'Entries whose status, expiry, stations or note changed.',
    }),
    unchanged: Type.Integer({ description: 'Entries the ACL had exactly so.' }),
    deleted: Type.Integer({ description: 'Entries not in the body, deleted (`replace` only).' }),
  },
  { description: 'What the import did, in one transaction.' },
);
export type ImportSummary = Static<typeof ImportSummary>;

export function toView(record: AclRecord): AclEntryView {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: record.id,
    token_hash_prefix: fingerprintOf(record.tokenHash),
    status: record.status,
    expires_at: record.expiresAt === undefined ? null : iso(record.expiresAt),
    stations: record.stations === undefined ? null : [...record.stations].sort(),
    note: record.note ?? null,
    created_at: iso(record.createdAt),
    updated_at: iso(record.updatedAt),
  };
}

export function toSummary(
  mode: ImportSummary['mode'],
  imported: number,
  result: AclImportResult,
): ImportSummary {
  const { created, updated, unchanged, deleted } = result;
  return { mode, imported, created, updated, unchanged, deleted };
}

/** A problem answer in the OpenAPI document. */
export const problemJson = (description: string) => ({
  description: `${description} RFC 9457 problem details; never contains a token.`,
  content: { 'application/problem+json': { schema: Problem } },
});
